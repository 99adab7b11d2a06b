import { describe, expect, it } from 'vitest';
import { buildTestApp, TEST_NOW_MS } from '../app-harness.test-support.js';
import type { ModelList } from './models-route.js';

describe('GET /v1/models', () => {
  it('lists the configured models in the OpenAI list shape', async () => {
    await using test = buildTestApp({ models: ['a', 'b'] });
    const { app } = test;
    const response = await app.inject({ method: 'GET', url: '/v1/models' });
    expect(response.statusCode).toBe(200);
    const created = Math.floor(TEST_NOW_MS / 1000);
    expect(response.json()).toEqual({
      object: 'list',
      data: [
        { id: 'a', object: 'model', created, owned_by: 'mock-backend' },
        { id: 'b', object: 'model', created, owned_by: 'mock-backend' },
      ],
    });
  });

  it('defaults to mock-model', async () => {
    await using test = buildTestApp();
    const { app } = test;
    const list = (await app.inject({ method: 'GET', url: '/v1/models' })).json<ModelList>();
    expect(list.data.map((model) => model.id)).toEqual(['mock-model']);
  });
});
