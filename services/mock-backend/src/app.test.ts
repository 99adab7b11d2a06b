import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createLogger } from '@api-router/observability';
import { buildMockBackendApp } from './app.js';
import type { ChatCompletion } from './chat-completion-wire.js';
import { resolveConfig, type MockBackendOptions } from './config.js';
import { createMockBackendState } from './mock-backend-state.js';
import { createRequestRecorder, REDACTED_MARKER } from './request-recorder.js';
import type { ModelList } from './routes/models-route.js';
import { countPromptTokens } from './token-accounting.js';

const NOW_MS = 1_700_000_000_500;

interface Harness {
  app: FastifyInstance;
  sleeps: number[];
}

let current: FastifyInstance | undefined;
afterEach(async () => {
  await current?.close();
  current = undefined;
});

/** App with a recorded fake sleep, a scripted random source and a fixed clock. */
function harness(options: MockBackendOptions = {}, draws: number[] = []): Harness {
  const config = resolveConfig({ id: 'backend-a', ...options });
  const sleeps: number[] = [];
  const app = buildMockBackendApp({
    id: config.id,
    models: config.models,
    state: createMockBackendState({ healthy: config.healthy, faults: config.faults }),
    recorder: createRequestRecorder(config.recordLimit),
    logger: createLogger({ service: 'mock-backend-test', level: 'silent' }),
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
    random: () => draws.shift() ?? 0.999,
    nowMs: () => NOW_MS,
  });
  current = app;
  return { app, sleeps };
}

const messages = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Say hello to the router tests.' },
];

describe('POST /v1/chat/completions (JSON)', () => {
  it('answers in the OpenAI chat.completion shape with deterministic content and usage', async () => {
    const { app } = harness({ faults: { outputTokens: 5 } });
    const response = await app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      payload: { model: 'gpt-x', messages, max_tokens: 100 },
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(response.headers['x-mock-backend-id']).toBe('backend-a');
    const body = response.json<ChatCompletion>();
    expect(Object.keys(body).sort()).toEqual([
      'choices',
      'created',
      'id',
      'model',
      'object',
      'system_fingerprint',
      'usage',
    ]);
    const promptTokens = countPromptTokens(messages);
    expect(promptTokens).toBe(
      Math.ceil(('You are terse.'.length + 'Say hello to the router tests.'.length) / 4),
    );
    expect(body).toEqual({
      id: 'chatcmpl-backend-a-1',
      object: 'chat.completion',
      created: Math.floor(NOW_MS / 1000),
      model: 'gpt-x',
      system_fingerprint: null,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'tok0 tok1 tok2 tok3 tok4', refusal: null },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      usage: { prompt_tokens: promptTokens, completion_tokens: 5, total_tokens: promptTokens + 5 },
    });
  });

  it('cuts the completion at max_completion_tokens with finish_reason "length"', async () => {
    const { app } = harness();
    const response = await app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { 'x-mock-output-tokens': '50' },
      payload: { model: 'm', messages, max_completion_tokens: 3, temperature: 0.2 },
    });
    const body = response.json();
    expect(body.choices[0].message.content).toBe('tok0 tok1 tok2');
    expect(body.choices[0].finish_reason).toBe('length');
    expect(body.usage.completion_tokens).toBe(3);
  });

  it('rejects a malformed body with an OpenAI error naming the field', async () => {
    const { app } = harness();
    const response = await app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      payload: { model: 'm', messages: [] },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({
      error: { message: expect.any(String), type: 'invalid_request_error', param: 'messages', code: null },
    });
    const badJson = await app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { 'content-type': 'application/json' },
      payload: '{"model":',
    });
    expect(badJson.statusCode).toBe(400);
    expect(badJson.json().error.type).toBe('invalid_request_error');
    expect(badJson.headers['x-mock-backend-id']).toBe('backend-a');
  });
});

describe('fault injection', () => {
  it('forces a status with an OpenAI error body, Retry-After on 429/503, and the identity header', async () => {
    const { app } = harness();
    const response = await app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { 'x-mock-status': '503' },
      payload: { model: 'm', messages },
    });
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('1');
    expect(response.headers['x-mock-backend-id']).toBe('backend-a');
    expect(response.json()).toEqual({
      error: {
        message: expect.stringContaining('503'),
        type: 'server_error',
        param: null,
        code: 'mock_forced_status',
      },
    });
    const notFound = await app.inject({
      method: 'GET',
      url: '/v1/models',
      headers: { 'x-mock-status': '404' },
    });
    expect(notFound.json().error.type).toBe('not_found_error');
  });

  it('honours the latency header by sleeping before answering', async () => {
    const { app, sleeps } = harness({ faults: { latencyMs: 7 } });
    const response = await app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { 'x-mock-latency-ms': '1200' },
      payload: { model: 'm', messages },
    });
    expect(response.statusCode).toBe(200);
    expect(sleeps).toEqual([1200]);
    await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: { model: 'm', messages } });
    expect(sleeps).toEqual([1200, 7]);
  });

  it('fails with 500 when the injected random draw falls under the error rate', async () => {
    const { app } = harness({ faults: { errorRate: 0.3 } }, [0.1, 0.5]);
    const first = await app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      payload: { model: 'm', messages },
    });
    const second = await app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      payload: { model: 'm', messages },
    });
    expect(first.statusCode).toBe(500);
    expect(first.json().error).toMatchObject({ type: 'server_error', code: 'mock_injected_error' });
    expect(second.statusCode).toBe(200);
  });

  it('rejects a malformed fault header with 400', async () => {
    const { app } = harness();
    const response = await app.inject({
      method: 'GET',
      url: '/v1/models',
      headers: { 'x-mock-error-rate': 'often' },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toMatchObject({ code: 'invalid_mock_header', param: 'x-mock-error-rate' });
  });

  it('switches instance faults at runtime through /control/faults', async () => {
    const { app } = harness();
    const update = await app.inject({ method: 'PUT', url: '/control/faults', payload: { errorRate: 1 } });
    expect(update.json()).toMatchObject({ errorRate: 1, latencyMs: 0 });
    const failing = await app.inject({ method: 'GET', url: '/v1/models' });
    expect(failing.statusCode).toBe(500);
    const invalid = await app.inject({ method: 'PUT', url: '/control/faults', payload: { errorRate: 2 } });
    expect(invalid.statusCode).toBe(400);
    const unknown = await app.inject({ method: 'PUT', url: '/control/faults', payload: { latency: 1 } });
    expect(unknown.statusCode).toBe(400);
    expect((await app.inject({ method: 'GET', url: '/control/faults' })).json().errorRate).toBe(1);
  });
});

describe('GET /v1/models', () => {
  it('lists the configured models in the OpenAI list shape', async () => {
    const { app } = harness({ models: ['a', 'b'] });
    const response = await app.inject({ method: 'GET', url: '/v1/models' });
    expect(response.statusCode).toBe(200);
    const created = Math.floor(NOW_MS / 1000);
    expect(response.json()).toEqual({
      object: 'list',
      data: [
        { id: 'a', object: 'model', created, owned_by: 'mock-backend' },
        { id: 'b', object: 'model', created, owned_by: 'mock-backend' },
      ],
    });
  });

  it('defaults to mock-model', async () => {
    const { app } = harness();
    const list = (await app.inject({ method: 'GET', url: '/v1/models' })).json<ModelList>();
    expect(list.data.map((model) => model.id)).toEqual(['mock-model']);
  });
});

describe('health', () => {
  it('flips between 200 and 503 through /control/health', async () => {
    const { app } = harness();
    expect((await app.inject({ method: 'GET', url: '/health' })).json()).toEqual({ status: 'ok' });
    const flip = await app.inject({ method: 'POST', url: '/control/health', payload: { healthy: false } });
    expect(flip.json()).toEqual({ healthy: false });
    const unhealthy = await app.inject({ method: 'GET', url: '/health' });
    expect(unhealthy.statusCode).toBe(503);
    expect(unhealthy.json()).toEqual({ status: 'unhealthy' });
    await app.inject({ method: 'POST', url: '/control/health', payload: { healthy: true } });
    expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    expect(
      (await app.inject({ method: 'POST', url: '/control/health', payload: { healthy: 'no' } })).statusCode,
    ).toBe(400);
  });

  it('starts unhealthy when configured so', async () => {
    const { app } = harness({ healthy: false });
    expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(503);
  });
});

describe('request recording', () => {
  it('records method, url, headers with credentials redacted, and body; not control calls', async () => {
    const { app } = harness();
    await app.inject({
      method: 'POST',
      url: '/v1/chat/completions?x=1',
      headers: {
        authorization: 'Bearer sk-backend-secret',
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      },
      payload: { model: 'm', messages },
    });
    await app.inject({ method: 'GET', url: '/control/faults' });
    const response = await app.inject({ method: 'GET', url: '/control/requests' });
    const { requests } = response.json();
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({
      method: 'POST',
      url: '/v1/chat/completions?x=1',
      body: { model: 'm', messages },
      receivedAtMs: NOW_MS,
    });
    expect(requests[0].headers.authorization).toBe(REDACTED_MARKER);
    expect(requests[0].headers.traceparent).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    expect(response.body).not.toContain('sk-backend-secret');

    expect((await app.inject({ method: 'DELETE', url: '/control/requests' })).statusCode).toBe(204);
    expect((await app.inject({ method: 'GET', url: '/control/requests' })).json()).toEqual({ requests: [] });
  });

  it('records requests that were failed by a fault, so attempts can be counted', async () => {
    const { app } = harness();
    await app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { 'x-mock-status': '502' },
      payload: { model: 'm', messages },
    });
    expect((await app.inject({ method: 'GET', url: '/control/requests' })).json().requests).toHaveLength(1);
  });
});

describe('unknown routes', () => {
  it('answer 404 in the OpenAI error shape', async () => {
    const { app } = harness();
    const response = await app.inject({ method: 'POST', url: '/v1/completions', payload: {} });
    expect(response.statusCode).toBe(404);
    expect(response.json().error.type).toBe('not_found_error');
  });
});
