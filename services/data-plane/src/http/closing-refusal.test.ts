import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@api-router/testing';
import { metricValue } from '../../test/support/data-plane-harness.js';
import { startInferenceHarness, type InferenceHarness } from '../testing/inference-harness.test-support.js';
import { TEST_KEYS, testApiKey } from '../testing/test-policy.test-support.js';

// A request that arrives on a kept-alive connection once the server is closing (shutdown, after the drain
// delay) is refused: in the router's shape with its request id, counted and logged like any other.

let harness: InferenceHarness;
beforeAll(async () => {
  harness = await startInferenceHarness();
});
afterAll(async () => {
  await harness.close();
});

function chatRequest(requestId: string, latencyMs: number): string {
  const body = JSON.stringify({
    model: 'demo-chat',
    messages: [{ role: 'user', content: 'hi' }],
    max_tokens: 2,
  });
  return [
    'POST /v1/chat/completions HTTP/1.1',
    'host: 127.0.0.1',
    `authorization: Bearer ${testApiKey(TEST_KEYS.demo)}`,
    'content-type: application/json',
    `content-length: ${Buffer.byteLength(body)}`,
    `x-request-id: ${requestId}`,
    `x-mock-latency-ms: ${latencyMs}`,
    '',
    body,
  ].join('\r\n');
}

describe('a request that arrives while the server is closing', { timeout: 30_000 }, () => {
  it("is refused with 503 in the route's error shape, its request id echoed, counted and logged", async () => {
    const { port } = new URL(harness.url);
    const socket: Socket = connect(Number(port), '127.0.0.1');
    let answers = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answers += chunk));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    // A slow request keeps the connection busy, so the server's close does not end it as idle.
    socket.write(chatRequest('busy-at-close', 1500));
    await waitFor('the backend has the first request', () =>
      [...harness.backends['mock-a'].requests(), ...harness.backends['mock-b'].requests()].some(
        (request) => request.headers['x-request-id'] === 'busy-at-close',
      )
        ? true
        : undefined,
    );
    const stopping = harness.dataPlane[Symbol.asyncDispose]();
    // The listener is closed once the app is closing: new connections are refused from then on.
    await waitFor('the server is closing', async () => {
      try {
        await fetch(`${harness.url}/healthz`);
        return undefined;
      } catch {
        return true;
      }
    });
    socket.write(chatRequest('arrives-at-close', 0));
    await closed;
    await stopping;
    const second = answers.slice(answers.indexOf('HTTP/1.1', 1));
    expect(answers).toMatch(/^HTTP\/1\.1 200 /);
    expect(second).toMatch(/^HTTP\/1\.1 503 /);
    expect(second.toLowerCase()).toContain('\r\nx-request-id: arrives-at-close\r\n');
    expect(second.toLowerCase()).toContain('\r\nconnection: close\r\n');
    // The route's error shape (OpenAI's on /v1/chat/completions), and the header every error carries.
    expect(JSON.parse(second.slice(second.indexOf('\r\n\r\n') + 4))).toMatchObject({
      error: { code: 'not_ready', message: 'The data plane is shutting down.' },
    });
    expect(second.toLowerCase()).toContain('\r\nx-should-retry: true\r\n');
    const text = await harness.dataPlane.metricsRegistry.metrics();
    expect(metricValue(text, 'router_requests_total', { route: 'none', status_class: '5xx' })).toBe(1);
    expect(harness.logLinesOf('arrives-at-close').filter((line) => line.msg === 'request completed')).toEqual(
      [expect.objectContaining({ status: 503, path: '/v1/chat/completions' })],
    );
  });
});
