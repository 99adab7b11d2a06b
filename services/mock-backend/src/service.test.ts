import { describe, expect, it } from 'vitest';
import { createLogger } from '@api-router/observability';
import {
  createBlockingSleep,
  postChat,
  readAll,
  readCompletion,
  startTestBackend,
} from './real-backend.test-support.js';
import { REDACTED_MARKER } from './request-recorder.js';
import { startMockBackend } from './service.js';

describe('startMockBackend', () => {
  it('logs the listening url and serves on it', async () => {
    await using test = await startTestBackend();
    expect(test.backend.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(test.logLines).toContainEqual(
      expect.objectContaining({ msg: 'listening', url: test.backend.url, id: 'test-backend' }),
    );
    const health = await fetch(`${test.backend.url}/health`);
    expect(await health.json()).toEqual({ status: 'ok' });
  });

  it('exposes health, faults and recorded requests in-process', async () => {
    await using test = await startTestBackend();
    const { backend } = test;
    backend.setHealthy(false);
    expect((await fetch(`${backend.url}/health`)).status).toBe(503);
    backend.setFaults({ outputTokens: 1 });
    const body = await readCompletion(await postChat(backend, {}, { authorization: 'Bearer secret-key' }));
    expect(body.choices[0]!.message.content).toBe('tok0');
    expect(backend.requests().map((request) => request.url)).toEqual(['/health', '/v1/chat/completions']);
    expect(backend.requests()[1]?.headers.authorization).toBe(REDACTED_MARKER);
    backend.clearRequests();
    expect(backend.requests()).toEqual([]);
  });

  it('closes at the end of an `await using` scope', async () => {
    let url = '';
    {
      await using backend = await startMockBackend(
        { id: 'scoped' },
        { logger: createLogger({ service: 't', level: 'silent' }) },
      );
      url = backend.url;
      expect((await fetch(`${url}/health`)).headers.get('x-mock-backend-id')).toBe('scoped');
    }
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  });

  it('closes idempotently and cuts open streams', async () => {
    const blocking = createBlockingSleep();
    await using test = await startTestBackend({}, blocking.sleep);
    const { backend } = test;
    const response = await postChat(backend, { stream: true }, { 'x-mock-first-byte-delay-ms': '1000' });
    const reading = readAll(response);
    await backend[Symbol.asyncDispose]();
    await backend.close();
    await expect(reading).resolves.toMatchObject({ failed: true });
    await expect(fetch(`${backend.url}/health`)).rejects.toThrow();
  });
});
