import { fromJson, type JsonObject, type JsonValue } from '@bufbuild/protobuf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorResponseSchema, InferenceResponseSchema } from '@api-router/contracts';
import { countPromptTokens } from '@api-router/mock-backend';
import { waitFor } from '@api-router/testing';
import { metricValue } from '../test/support/data-plane-harness.js';
import {
  parseSse,
  startInferenceHarness,
  type InferenceHarness,
} from './testing/inference-harness.test-support.js';
import { TEST_KEYS, testApiKey } from './testing/test-policy.test-support.js';

// A real data plane in-process in front of two in-process mock backends, driven over HTTP.

let harness: InferenceHarness;
beforeAll(async () => {
  harness = await startInferenceHarness();
});
afterAll(async () => {
  await harness.close();
});

const demoKey = testApiKey(TEST_KEYS.demo);
const messages = [{ role: 'user', content: 'Say hello to the router' }];

function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${harness.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${demoKey}`, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/**
 * The whole body parsed strictly against router.v1.ErrorResponse (the contract, `details` included: an
 * unknown field or a wrong type fails the parse), plus the HTTP status.
 */
async function routerError(
  response: Response,
): Promise<{ status: number; code: string; message: string; details: JsonObject | undefined }> {
  const parsed = fromJson(ErrorResponseSchema, (await response.json()) as JsonValue);
  expect(parsed.error?.requestId).toBe(response.headers.get('x-request-id'));
  return {
    status: response.status,
    code: parsed.error?.code ?? '',
    message: parsed.error?.message ?? '',
    details: parsed.error?.details,
  };
}

/** The router block's millisecond figures, as sent: rounded to the microsecond (at most 3 decimals). */
function expectMicrosecondFigures(router: Record<string, unknown>): void {
  for (const field of ['total_ms', 'upstream_ms', 'overhead_ms', 'queue_ms', 'time_to_first_token_ms']) {
    expect(String(router[field]), field).toMatch(/^\d+(\.\d{1,3})?$/);
  }
}

describe('POST /v1/inference', () => {
  it('answers with the completion, usage and the router block, valid against the contract', async () => {
    harness.backends['mock-a'].clearRequests();
    const response = await post('/v1/inference', { model: 'demo-chat', messages, max_output_tokens: 4 });
    expect(response.status).toBe(200);
    expect(Number(response.headers.get('x-router-overhead-ms'))).toBeGreaterThanOrEqual(0);
    const json = (await response.json()) as JsonValue;
    const parsed = fromJson(InferenceResponseSchema, json);
    expect(parsed).toMatchObject({
      model: 'demo-chat',
      output: { role: 'assistant', content: 'tok0 tok1 tok2 tok3' },
      finishReason: 'length',
      usage: { inputTokens: BigInt(countPromptTokens(messages)), outputTokens: 4n },
      router: { routeId: 'demo-chat', backendId: 'mock-a', attempts: 1, policyVersion: 1n },
    });
    expect(parsed.router?.requestId).toBe(response.headers.get('x-request-id'));
    const router = parsed.router!;
    expect(router.totalMs).toBeGreaterThanOrEqual(router.upstreamMs);
    // Each figure is rounded to the microsecond on its own, so the identity holds to ±0.0015 ms.
    expect(Math.abs(router.overheadMs - (router.totalMs - router.upstreamMs))).toBeLessThanOrEqual(0.0016);
    expectMicrosecondFigures((json as { router: Record<string, unknown> }).router);

    const [upstream] = harness.backends['mock-a'].requests();
    expect(upstream?.body).toMatchObject({ model: 'mock-model', max_tokens: 4, messages });
    // The backend credential was sent (the mock redacts values), the client's key was not.
    expect(upstream?.headers.authorization).toBe('[redacted]');
    expect(JSON.stringify(upstream)).not.toContain(demoKey.split('.')[1]);
    expect(upstream?.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    expect(upstream?.headers['x-request-id']).toBe(parsed.router?.requestId);
  });

  it('streams deltas, then a final event with usage and router metrics, then [DONE]', async () => {
    const response = await post('/v1/inference', {
      model: 'demo-chat',
      messages,
      max_output_tokens: 3,
      stream: true,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const { data } = parseSse(await response.text());
    expect(data.at(-1)).toBe('[DONE]');
    const events = data
      .slice(0, -1)
      .map((line) => fromJson(InferenceResponseSchema, JSON.parse(line) as JsonValue));
    expect(events.slice(0, -1).map((event) => event.output?.content)).toEqual(['tok0', ' tok1', ' tok2']);
    const final = events.at(-1)!;
    expect(final).toMatchObject({
      finishReason: 'length',
      usage: { outputTokens: 3n },
      router: { attempts: 1 },
    });
    expect(final.router!.timeToFirstTokenMs).toBeGreaterThan(0);
    expect(final.router!.timeToFirstTokenMs).toBeLessThanOrEqual(final.router!.totalMs);
  });

  it('fails over to the next candidate when the first cannot be connected to', async () => {
    const response = await post('/v1/inference', { model: 'failover-model', messages });
    const json = fromJson(InferenceResponseSchema, (await response.json()) as JsonValue);
    expect(json.router).toMatchObject({ backendId: 'mock-a', attempts: 2 });
    const metrics = await harness.metricsText();
    expect(
      metricValue(metrics, 'router_upstream_attempts_total', {
        backend: 'mock-dead',
        outcome: 'connect_failed',
      }),
    ).toBeGreaterThanOrEqual(1);
  });

  it.each([
    ['malformed JSON', '{"model":', {}, 400, 'invalid_request'],
    [
      'a body that is not an InferenceRequest',
      { model: 'demo-chat', messages, tools: [] },
      {},
      400,
      'invalid_request',
    ],
    ['no messages', { model: 'demo-chat', messages: [] }, {}, 400, 'invalid_request'],
    ['a prototype-polluting body', '{"model":"demo-chat","__proto__":{"x":1}}', {}, 400, 'invalid_request'],
    [
      'a deeply nested body',
      `{"model":"demo-chat","messages":${'['.repeat(100)}${']'.repeat(100)}}`,
      {},
      400,
      'invalid_request',
    ],
    [
      'a model the key may not use',
      { model: 'demo-chat', messages },
      { authorization: `Bearer ${testApiKey(TEST_KEYS.limited)}` },
      403,
      'model_not_allowed',
    ],
    ['an unknown model', { model: 'no-such-model', messages }, {}, 404, 'model_not_found'],
    [
      'a body over the policy limit',
      { model: 'demo-chat', messages, pad: 'x'.repeat(70_000) },
      {},
      413,
      'payload_too_large',
    ],
    [
      'a non-JSON content type',
      'model=demo-chat',
      { 'content-type': 'text/plain' },
      415,
      'unsupported_media_type',
    ],
    [
      'a backend answering 500',
      { model: 'demo-chat', messages },
      { 'x-mock-status': '500' },
      502,
      'upstream_error',
    ],
    ['a route whose only backend is disabled', { model: 'off-model', messages }, {}, 503, 'no_backend'],
  ])('refuses %s', async (_name, body, headers, status, code) => {
    const response = await post('/v1/inference', body, headers);
    expect(await routerError(response)).toMatchObject({ status, code });
  });

  it('answers details in the contract: the upstream status of a 502', async () => {
    const response = await post(
      '/v1/inference',
      { model: 'demo-chat', messages },
      { 'x-mock-status': '500' },
    );
    expect(await routerError(response)).toMatchObject({
      status: 502,
      code: 'upstream_error',
      details: { upstream_status: 500 },
    });
  });
});

describe('POST /v1/chat/completions', () => {
  it('relays the backend JSON with x-router-* headers', async () => {
    const response = await post('/v1/chat/completions', { model: 'demo-chat', messages, max_tokens: 2 });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { object: string; choices: { message: { content: string } }[] };
    expect(body.object).toBe('chat.completion');
    expect(body.choices[0]?.message.content).toBe('tok0 tok1');
    expect(response.headers.get('x-router-route')).toBe('demo-chat');
    expect(response.headers.get('x-router-backend')).toBe('mock-a');
    expect(response.headers.get('x-router-attempts')).toBe('1');
    expect(response.headers.get('x-router-policy-version')).toBe('1');
    for (const name of ['total', 'upstream', 'overhead', 'queue']) {
      expect(Number(response.headers.get(`x-router-${name}-ms`))).toBeGreaterThanOrEqual(0);
    }
  });

  it('streams chunks, a router comment and [DONE]; the usage chunk only when asked for', async () => {
    const plain = parseSse(
      await (
        await post('/v1/chat/completions', { model: 'demo-chat', messages, max_tokens: 2, stream: true })
      ).text(),
    );
    expect(plain.data.at(-1)).toBe('[DONE]');
    const chunks = plain.data.slice(0, -1).map((line) => JSON.parse(line) as { choices: unknown[] });
    expect(chunks.every((chunk) => chunk.choices.length > 0)).toBe(true);
    expect(plain.comments).toHaveLength(1);
    const router = JSON.parse(plain.comments[0]!.replace(/^: router /, '')) as Record<string, unknown>;
    expect(router).toMatchObject({ route_id: 'demo-chat', backend_id: 'mock-a', attempts: 1 });
    expect(router.time_to_first_token_ms).toEqual(expect.any(Number));
    expectMicrosecondFigures(router);

    const withUsage = parseSse(
      await (
        await post('/v1/chat/completions', {
          model: 'demo-chat',
          messages,
          max_tokens: 2,
          stream: true,
          stream_options: { include_usage: true },
        })
      ).text(),
    );
    const usageChunk = JSON.parse(withUsage.data.at(-2)!) as { choices: unknown[]; usage: unknown };
    expect(usageChunk).toMatchObject({ choices: [], usage: { completion_tokens: 2 } });
  });

  it("renders errors in OpenAI's shape, naming the invalid parameter", async () => {
    const response = await post('/v1/chat/completions', { model: 'demo-chat', messages: [] });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      error: {
        message: "Invalid 'messages': must NOT have fewer than 1 items.",
        type: 'invalid_request_error',
        param: 'messages',
        code: 'invalid_request',
      },
    });
    // A nullable field: the message names what is wrong, not every anyOf branch ajv tried.
    const hot = await post('/v1/chat/completions', { model: 'demo-chat', messages, temperature: 7 });
    expect(await hot.json()).toMatchObject({
      error: { message: "Invalid 'temperature': must be <= 2.", param: 'temperature' },
    });
    const noModel = await post('/v1/chat/completions', { messages });
    expect(await noModel.json()).toMatchObject({
      error: { message: "Missing required parameter: 'model'.", param: 'model' },
    });
    const badRole = await post('/v1/chat/completions', {
      model: 'demo-chat',
      messages: [{ role: 42, content: 'Hi' }],
    });
    expect(await badRole.json()).toMatchObject({
      error: {
        message: expect.stringMatching(/^Invalid 'messages\.0\.role': /) as unknown,
        param: 'messages.0.role',
      },
    });
    const typed = await post('/v1/chat/completions', { model: 'demo-chat', messages, max_tokens: '5' });
    expect(typed.status).toBe(400); // no type coercion
    const missing = await post('/v1/chat/completions', { model: 'unknown', messages });
    expect(await missing.json()).toMatchObject({
      error: { type: 'not_found_error', code: 'model_not_found' },
    });
  });

  it('ends a stream whose backend dies mid-way with an error event, never [DONE], and counts it', async () => {
    const response = await post(
      '/v1/chat/completions',
      { model: 'demo-chat', messages, stream: true },
      { 'x-mock-truncate-after': '2' },
    );
    expect(response.status).toBe(200);
    const { data } = parseSse(await response.text());
    expect(data).not.toContain('[DONE]');
    expect(JSON.parse(data.at(-1)!)).toEqual({
      error: {
        message: 'The model backend connection failed mid-response.',
        type: 'server_error',
        param: null,
        code: 'upstream_error',
      },
    });
    expect(
      metricValue(await harness.metricsText(), 'router_streams_truncated_total', { route: 'demo-chat' }),
    ).toBe(1);
  });

  it('aborts the upstream call when the client disconnects mid-stream', async () => {
    const abortedBefore =
      metricValue(await harness.metricsText(), 'router_requests_total', {
        route: 'demo-chat',
        status_class: 'aborted',
      }) ?? 0;
    const response = await post(
      '/v1/chat/completions',
      { model: 'demo-chat', messages, stream: true, max_tokens: 200 },
      { 'x-mock-output-tokens': '200', 'x-mock-chunk-delay-ms': '50' },
    );
    const reader = response.body!.getReader();
    await reader.read();
    await reader.cancel();
    const aborts = await waitFor('an upstream abort counted', async () => {
      const text = await harness.metricsText();
      return metricValue(text, 'router_upstream_aborts_total', { reason: 'client_disconnect' }) === 1
        ? 1
        : undefined;
    });
    expect(aborts).toBe(1);
    expect(
      metricValue(await harness.metricsText(), 'router_requests_total', {
        route: 'demo-chat',
        status_class: 'aborted',
      }),
    ).toBe(abortedBefore + 1);
  });
});

describe('GET /v1/models', () => {
  it('lists the models each key may use', async () => {
    const list = async (publicId: string) => {
      const response = await fetch(`${harness.url}/v1/models`, {
        headers: { authorization: `Bearer ${testApiKey(publicId)}` },
      });
      return ((await response.json()) as { data: { id: string }[] }).data.map((model) => model.id);
    };
    expect(await list(TEST_KEYS.demo)).toEqual(['demo-chat', 'failover-model', 'off-model', 'other-model']);
    expect(await list(TEST_KEYS.limited)).toEqual(['other-model']);
  });
});
