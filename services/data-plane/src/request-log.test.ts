import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@api-router/testing';
import { metricValue } from '../test/support/data-plane-harness.js';
import { startInferenceHarness, type InferenceHarness } from './testing/inference-harness.test-support.js';
import { TEST_KEYS, testApiKey } from './testing/test-policy.test-support.js';

// The access log of the inference API ("request completed", http/access-log.ts): a real data plane
// in-process in front of two in-process mock backends, driven over HTTP.

let harness: InferenceHarness;
beforeAll(async () => {
  harness = await startInferenceHarness();
});
afterAll(async () => {
  await harness.close();
});

const demoKey = testApiKey(TEST_KEYS.demo);
const messages = [{ role: 'user', content: 'Say hello to the router' }];

function post(path: string, body: unknown): Promise<Response> {
  return fetch(`${harness.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${demoKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

describe('request log', () => {
  it('writes one "request completed" line per request, naming key, tenant, route and backend, no secrets', async () => {
    const response = await post('/v1/chat/completions', { model: 'demo-chat', messages, max_tokens: 2 });
    expect(response.status).toBe(200);
    const lines = harness.logLinesOf(response.headers.get('x-request-id') ?? '');
    expect(lines.map((line) => line.msg)).toEqual(['request completed']);
    expect(lines[0]).toMatchObject({
      level: 30,
      method: 'POST',
      path: '/v1/chat/completions',
      status: 200,
      key: TEST_KEYS.demo,
      route: expect.any(String),
      backend: expect.any(String),
      attempts: 1,
    });
    expect(typeof lines[0]?.ms).toBe('number');
    expect(lines[0]?.upstream_ms).toBeGreaterThan(0);
    expect(lines[0]?.upstream_ms).toBeLessThanOrEqual(lines[0]?.ms as number);
    expect(harness.logs()).not.toContain(demoKey);
  });

  it('logs a client that left before its answer as 499 at info, not as a failure of the router', async () => {
    const requestId = 'client-leaves-before-answer';
    const logLines = () => harness.logLinesOf(requestId);
    const received = () =>
      [...harness.backends['mock-a'].requests(), ...harness.backends['mock-b'].requests()].some(
        (request) => request.headers['x-request-id'] === requestId,
      );
    const abortedCount = async () =>
      metricValue(await harness.metricsText(), 'router_requests_total', {
        route: 'demo-chat',
        status_class: 'aborted',
      }) ?? 0;
    const abortedBefore = await abortedCount();
    const client = new AbortController();
    const answer = fetch(`${harness.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${demoKey}`,
        'content-type': 'application/json',
        'x-request-id': requestId,
        'x-mock-latency-ms': '2000',
      },
      body: JSON.stringify({ model: 'demo-chat', messages, max_tokens: 2 }),
      signal: client.signal,
    });
    await waitFor('the backend has the request', () => Promise.resolve(received() ? true : undefined));
    client.abort();
    await expect(answer).rejects.toThrow();
    const completed = await waitFor('the request line', () =>
      Promise.resolve(logLines().find((line) => line.msg === 'request completed')),
    );
    expect(completed).toMatchObject({ status: 499, level: 30, path: '/v1/chat/completions', attempts: 1 });
    // The attempt the client cut short counts as upstream time.
    expect(completed.upstream_ms).toBeGreaterThan(0);
    // Not a failure of the router: nothing at warn or error (it was an error line with a stack, status 500).
    await waitFor('the handler has ended', async () =>
      (await abortedCount()) === abortedBefore + 1 ? true : undefined,
    );
    expect(logLines().filter((line) => (line.level as number) >= 40)).toEqual([]);
    expect(logLines().filter((line) => line.msg === 'request completed')).toHaveLength(1);
  });
});
