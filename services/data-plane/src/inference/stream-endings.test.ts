import { createServer, type Server } from 'node:http';
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
