import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createMetricsRegistry } from '@api-router/observability';
import { captureLogs } from '../../test/support/captured-logs.js';
import { ManualTime } from '../../test/support/manual-time.js';
import { DEFAULT_HTTP_SETTINGS } from '../config.js';
import { buildApp } from './app.js';

// A path with malformed percent-encoding (`%zz`, a cut-off UTF-8 sequence) never reaches the router: fastify
// answers it from its URL decoding, before any hook. That answer must still be the router's: its error
// shape, the request id, the retry header and the access line.

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

function buildShell() {
  const time = new ManualTime(1_700_000_100_000);
  const logs = captureLogs();
  app = buildApp({
    logger: logs.logger,
    clock: time,
    http: DEFAULT_HTTP_SETTINGS,
    metricsRegistry: createMetricsRegistry({ processMetrics: false }),
    readiness: {
      detail: () => ({ ready: true }) as never,
      liveness: () => ({ status: 'ok' }) as never,
    },
    activePolicy: () => undefined,
  });
  return { app, logs };
}

describe('a path with malformed percent-encoding', () => {
  // The shape of a path no route serves (error-handler.ts): OpenAI's under /v1/, except /v1/inference.
  it.each([
    ['/v1/chat/completions%zz', { code: 'invalid_request', type: 'invalid_request_error' }],
    ['/v1/%E0%A4%A', { code: 'invalid_request', type: 'invalid_request_error' }],
    ['/admin%zz', { code: 'invalid_request', request_id: 'bad-path-1', retryable: false }],
    ['/healthz%', { code: 'invalid_request', request_id: 'bad-path-1', retryable: false }],
  ])('is refused (%s) as 400 invalid_request with the request id, and logged', async (url, error) => {
    const { app: shell, logs } = buildShell();
    const response = await shell.inject({ method: 'GET', url, headers: { 'x-request-id': 'bad-path-1' } });
    expect(response.statusCode).toBe(400);
    expect(response.headers['x-request-id']).toBe('bad-path-1');
    expect(response.headers['x-should-retry']).toBe('false');
    expect(response.json()).toMatchObject({ error });
    expect(logs.withMessage('request completed')).toEqual([
      expect.objectContaining({ request_id: 'bad-path-1', status: 400, path: 'unmatched', method: 'GET' }),
    ]);
  });
});
