import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fromBinary } from '@bufbuild/protobuf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageRecordSchema } from '@api-router/contracts';
import { waitFor } from '@api-router/testing';
import { metricValue } from '../../test/support/data-plane-harness.js';
import {
  parseSse,
  startInferenceHarness,
  type InferenceHarness,
} from '../testing/inference-harness.test-support.js';
import { TEST_KEYS, testApiKey } from '../testing/test-policy.test-support.js';

// How streams end when they do not end cleanly: a real data plane in-process, driven over HTTP.

const demoKey = testApiKey(TEST_KEYS.demo);
const messages = [{ role: 'user', content: 'Say hello to the router' }];

function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${demoKey}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

describe('a stream whose client left', () => {
  let harness: InferenceHarness;
  beforeAll(async () => {
    harness = await startInferenceHarness();
  });
  afterAll(async () => {
    await harness.close();
  });

  it('is recorded with status 499, as its access log line says', async () => {
    const requestId = 'stream-client-leaves';
    const response = await post(
      `${harness.url}/v1/chat/completions`,
      { model: 'demo-chat', messages, stream: true, max_tokens: 200 },
      { 'x-request-id': requestId, 'x-mock-output-tokens': '200', 'x-mock-chunk-delay-ms': '50' },
    );
    const reader = response.body!.getReader();
    await reader.read();
    await reader.cancel();
    const record = await waitFor('the usage record of the stream', () =>
      Promise.resolve(
        harness.shippedRecords
          .filter((shipped) => shipped.topic === 'usage' && shipped.key === requestId)
          .map((shipped) => fromBinary(UsageRecordSchema, shipped.payload))[0],
      ),
    );
    expect(record).toMatchObject({ requestId, streamed: true, statusCode: 499 });
  });
});

describe('a backend that reports an error mid-stream, then [DONE]', () => {
  let erring: InferenceHarness;
  let backend: Server;
  beforeAll(async () => {
    // As vLLM does when generation fails after the first chunk: an error event, then its usual [DONE].
    backend = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.end(
        'data: {"id":"c1","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"}}]}\n\n' +
          'data: {"error":{"message":"engine died","type":"server_error","code":500}}\n\n' +
          'data: [DONE]\n\n',
      );
    });
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(backend.address() as AddressInfo).port}/v1`;
    erring = await startInferenceHarness({ backendUrls: { 'mock-a': url, 'mock-b': url } });
  });
  afterAll(async () => {
    await erring.close();
    await new Promise((resolve) => backend.close(resolve));
  });

  it.each(['/v1/inference', '/v1/chat/completions'])(
    '%s ends the stream with an error event, never [DONE], and counts it',
    async (path) => {
      const truncated = async () =>
        metricValue(await erring.metricsText(), 'router_streams_truncated_total', { route: 'demo-chat' }) ??
        0;
      const truncatedBefore = await truncated();
      const response = await post(`${erring.url}${path}`, { model: 'demo-chat', messages, stream: true });
      expect(response.status).toBe(200);
      const { data } = parseSse(await response.text());
      expect(data).not.toContain('[DONE]');
      expect(JSON.parse(data.at(-1)!)).toMatchObject({ error: { code: 'upstream_error' } });
      expect(await truncated()).toBe(truncatedBefore + 1);
    },
  );
});

describe('a backend that sends [DONE], then holds the response open', () => {
  let holding: InferenceHarness;
  let backend: Server;
  const heldResponses: ServerResponse[] = [];
  beforeAll(async () => {
    // As a backend (or a proxy in front of it) that keeps the response open after its stream's end marker.
    backend = createServer((_request, response) => {
      heldResponses.push(response);
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write(
        'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":"Hello"}}]}\n\n' +
          'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n' +
          'data: {"id":"c1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}\n\n' +
          'data: [DONE]\n\n',
      );
    });
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(backend.address() as AddressInfo).port}/v1`;
    holding = await startInferenceHarness({
      backendUrls: { 'mock-a': url, 'mock-b': url },
      // A deadline well inside the test's timeout: a router that waited for the body's end would fail the
      // assertions below (an error event at the deadline), not time the test out.
      settingsYaml: '  maxBodyBytes: 65536\n  defaultRequestTimeoutMs: 2000',
    });
  });
  afterAll(async () => {
    await holding.close();
    backend.closeAllConnections();
    await new Promise((resolve) => backend.close(resolve));
  });

  it.each([
    { path: '/v1/inference', requestId: 'held-after-done-inference' },
    { path: '/v1/chat/completions', requestId: 'held-after-done-chat' },
  ])('$path ends the stream cleanly while the backend still holds it', async ({ path, requestId }) => {
    const truncated = async () =>
      metricValue(await holding.metricsText(), 'router_streams_truncated_total', { route: 'demo-chat' }) ?? 0;
    const truncatedBefore = await truncated();
    const response = await post(
      `${holding.url}${path}`,
      { model: 'demo-chat', messages, stream: true },
      { 'x-request-id': requestId },
    );
    expect(response.status).toBe(200);
    const { data } = parseSse(await response.text());
    // The backend never ended its response: the client's clean end did not wait for it.
    expect(heldResponses.at(-1)?.writableEnded).toBe(false);
    expect(data.at(-1)).toBe('[DONE]');
    expect(data.some((event) => event.includes('"error"'))).toBe(false);
    const record = await waitFor('the usage record of the stream', () =>
      Promise.resolve(
        holding.shippedRecords
          .filter((shipped) => shipped.topic === 'usage' && shipped.key === requestId)
          .map((shipped) => fromBinary(UsageRecordSchema, shipped.payload))[0],
      ),
    );
    expect(record).toMatchObject({ requestId, streamed: true, statusCode: 200, truncated: false });
    expect(await truncated()).toBe(truncatedBefore);
  });
});

describe('a backend that ends its response right after [DONE]', () => {
  let router: InferenceHarness;
  let backend: Server;
  let connections = 0;
  beforeAll(async () => {
    backend = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write(
        'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n',
      );
      // The end of the response a little after [DONE] (well within the relay's grace), in a packet of its
      // own: the relay must wait for it, or undici closes the connection instead of pooling it.
      response.write('data: [DONE]\n\n');
      setTimeout(() => response.end(), 10);
    });
    backend.on('connection', () => {
      connections += 1;
    });
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(backend.address() as AddressInfo).port}/v1`;
    router = await startInferenceHarness({ backendUrls: { 'mock-a': url, 'mock-b': url } });
  });
  afterAll(async () => {
    await router.close();
    await new Promise((resolve) => backend.close(resolve));
  });

  it('keeps the connection for the next request (the relay waited for the end, it did not cut it)', async () => {
    for (let request = 0; request < 3; request += 1) {
      const response = await post(`${router.url}/v1/chat/completions`, {
        model: 'demo-chat',
        messages,
        stream: true,
      });
      expect(parseSse(await response.text()).data.at(-1)).toBe('[DONE]');
    }
    expect(connections).toBe(1);
  });
});
