import { request as httpRequest } from 'node:http';
import { trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryNonceStore } from '@api-router/auth';
import { createLogger, createMetricsRegistry } from '@api-router/observability';
import { loadDataPlaneConfig } from './config.js';
import { createCredentialResolver } from './credentials/credential-resolver.js';
import { buildApp } from './http/app.js';
import { createInferenceRoutesDeps } from './inference/create-inference-routes-deps.js';
import { systemTimers } from './timers.js';
import { UpstreamPools } from './upstream/upstream-pools.js';
import {
  parseSse,
  startInferenceHarness,
  type InferenceHarness,
} from './testing/inference-harness.test-support.js';
import { createMemoryRecords } from './testing/memory-records.test-support.js';
import { TEST_KEYS, testApiKey } from './testing/test-policy.test-support.js';

// Limits that need a policy or configuration of their own: a small body limit, a short request deadline,
// a small upstream response cap.

let harness: InferenceHarness;
beforeAll(async () => {
  harness = await startInferenceHarness({
    settingsYaml: '  maxBodyBytes: 400\n  defaultRequestTimeoutMs: 400',
    config: { maxUpstreamResponseBytes: 2048 },
  });
});
afterAll(async () => {
  await harness.close();
});

const authorization = `Bearer ${testApiKey(TEST_KEYS.demo)}`;
const messages = [{ role: 'user', content: 'hi' }];

function post(body: unknown, headers: Record<string, string> = {}, path = '/v1/chat/completions') {
  return fetch(`${harness.url}${path}`, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

describe('limits and timeouts', () => {
  it('refuses a body over the policy limit, declared or chunked, with 413', async () => {
    const big = { model: 'demo-chat', messages, pad: 'x'.repeat(500) };
    expect((await post(big)).status).toBe(413);
    // Without Content-Length (chunked): the limit is enforced on the bytes actually read.
    const status = await new Promise<number>((resolve, reject) => {
      const url = new URL('/v1/chat/completions', harness.url);
      const outgoing = httpRequest(url, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      });
      outgoing.on('response', (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      outgoing.on('error', reject);
      outgoing.write(JSON.stringify(big).slice(0, 300));
      outgoing.end(JSON.stringify(big).slice(300));
    });
    expect(status).toBe(413);
  });

  it('answers 504 when the backend does not answer within the request deadline', async () => {
    const response = await post(
      { model: 'demo-chat', messages },
      { 'x-mock-latency-ms': '3000' },
      '/v1/inference',
    );
    expect(response.status).toBe(504);
    expect(await response.json()).toMatchObject({ error: { code: 'upstream_timeout', retryable: true } });
  });

  it('ends a stream that outlives the deadline with an error event', async () => {
    const response = await post(
      { model: 'demo-chat', messages, stream: true, max_tokens: 100 },
      { 'x-mock-output-tokens': '100', 'x-mock-chunk-delay-ms': '100' },
    );
    const { data } = parseSse(await response.text());
    expect(data).not.toContain('[DONE]');
    expect(JSON.parse(data.at(-1)!)).toMatchObject({
      error: { code: 'upstream_timeout', type: 'server_error' },
    });
  });

  it('answers 502 when the backend response exceeds the size cap', async () => {
    const response = await post(
      { model: 'demo-chat', messages, max_tokens: 1000 },
      { 'x-mock-output-tokens': '1000' },
    );
    expect(response.status).toBe(502);
    expect(await response.json()).toMatchObject({
      error: { code: 'upstream_error', message: expect.stringContaining('size limit') as unknown },
    });
  });
});

describe('before any policy', () => {
  it('answers 503 not_ready on every inference route', async () => {
    const logger = createLogger({ service: 'test', level: 'silent' });
    const clock = { now: () => Date.now() };
    const metricsRegistry = createMetricsRegistry({ defaultLabels: {} });
    const pools = new UpstreamPools({ logger });
    const app = buildApp({
      logger,
      clock,
      http: loadDataPlaneConfig({}).http,
      metricsRegistry,
      readiness: {
        liveness: () => ({ status: 'ok' }),
        detail: () => ({
          ready: false,
          draining: false,
          policy: null,
          controlPlane: { state: 'idle', connected: false, lastSyncAgeSeconds: null },
        }),
      },
      activePolicy: () => undefined,
      inference: createInferenceRoutesDeps({
        clock,
        timers: systemTimers,
        random: () => 0,
        now: () => performance.now(),
        tracer: trace.getTracer('test'),
        metricsRegistry,
        pools,
        nonceStore: createMemoryNonceStore({ clock, maxEntries: 10 }),
        credentials: createCredentialResolver({ environment: new Map() }),
        activePolicy: () => undefined,
        signatureWindowSeconds: 300,
        maxUpstreamResponseBytes: 1024,
        records: createMemoryRecords(),
        // Never reached: without a policy every request stops at not_ready.
        admission: { admit: () => Promise.reject(new Error('not reached')), close: () => Promise.resolve() },
      }),
    });
    for (const [method, url] of [
      ['POST', '/v1/inference'],
      ['POST', '/v1/chat/completions'],
      ['GET', '/v1/models'],
    ] as const) {
      const response = await app.inject({
        method,
        url,
        headers: { authorization, 'content-type': 'application/json' },
        payload: method === 'POST' ? '{}' : undefined,
      });
      expect(response.statusCode).toBe(503);
      expect(response.json()).toMatchObject({ error: { code: 'not_ready' } });
    }
    await app.close();
    await pools.close();
  });
});
