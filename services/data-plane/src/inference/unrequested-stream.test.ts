import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@api-router/testing';
import { metricValue } from '../../test/support/data-plane-harness.js';
import { LIMIT_KEYS, buildLimitsSnapshot } from '../admission/limits-policy.test-support.js';
import {
  postAsKey,
  shippedUsageRecord,
  startInferenceHarness,
  startScriptedBackend,
  type InferenceHarness,
} from '../testing/inference-harness.test-support.js';
import { TEST_KEYS, testApiKey } from '../testing/test-policy.test-support.js';

// A backend that answers a request without `stream: true` with an SSE stream (some servers stream by default
// or ignore the flag): the client still gets the one chat.completion it asked for, accounted as a JSON answer.

// "hi": the mock counts 1 prompt token; with max tokens 10 it generates 10 ("length"). The limits policy
// prices demo-chat at 1 micro per input token and 2 per output token: 21 micros a request, 28 reserved.
const messages = [{ role: 'user', content: 'hi' }];
const STREAM_ALWAYS = { 'x-mock-stream-always': '1' };
const TEN_TOKENS = 'tok0 tok1 tok2 tok3 tok4 tok5 tok6 tok7 tok8 tok9';

describe('the mock backend streaming requests that did not ask to (x-mock-stream-always: 1)', () => {
  let harness: InferenceHarness;
  beforeAll(async () => {
    harness = await startInferenceHarness({
      buildSnapshot: (urls) => buildLimitsSnapshot({ backendUrls: urls }),
    });
  });
  afterAll(async () => {
    await harness.close();
  });

  it('/v1/chat/completions answers the whole chat.completion the stream adds up to', async () => {
    const requestId = 'unrequested-stream-chat';
    const response = await postAsKey(
      `${harness.url}/v1/chat/completions`,
      LIMIT_KEYS.free,
      { model: 'demo-chat', messages, max_tokens: 10 },
      { ...STREAM_ALWAYS, 'x-request-id': requestId },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.headers.get('x-router-backend')).toMatch(/^mock-[ab]$/);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toEqual({
      id: expect.stringMatching(/^chatcmpl-mock-[ab]-\d+$/),
      object: 'chat.completion',
      created: expect.any(Number),
      model: expect.any(String),
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: TEN_TOKENS, refusal: null },
          logprobs: null,
          finish_reason: 'length',
        },
      ],
      usage: { prompt_tokens: 1, completion_tokens: 10, total_tokens: 11 },
    });
    // The backend did stream: the router did not ask it to.
    const backend = harness.backends[response.headers.get('x-router-backend') as 'mock-a' | 'mock-b'];
    const sent = backend.requests().find((recorded) => recorded.headers['x-request-id'] === requestId);
    expect((sent?.body as Record<string, unknown>).stream).toBeUndefined();

    expect(await shippedUsageRecord(harness, requestId)).toMatchObject({
      statusCode: 200,
      streamed: false,
      truncated: false,
      inputTokens: 1n,
      outputTokens: 10n,
      costMicros: 21n,
    });
  });

  it('/v1/inference answers its own JSON from the assembled completion', async () => {
    const requestId = 'unrequested-stream-inference';
    const response = await postAsKey(
      `${harness.url}/v1/inference`,
      LIMIT_KEYS.free,
      { model: 'demo-chat', messages, max_output_tokens: 10 },
      { ...STREAM_ALWAYS, 'x-request-id': requestId },
    );
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      id: expect.stringMatching(/^chatcmpl-mock-[ab]-\d+$/),
      model: 'demo-chat',
      output: { role: 'assistant', content: TEN_TOKENS },
      finish_reason: 'length',
      usage: { input_tokens: '1', output_tokens: '10' },
      router: { request_id: requestId, route_id: 'demo-chat' },
    });
    expect(await shippedUsageRecord(harness, requestId)).toMatchObject({
      streamed: false,
      truncated: false,
      outputTokens: 10n,
    });
  });

  it('settles the budget with the usage of the stream, as for a JSON answer', async () => {
    // Budget 100 micros: 4 requests settle at 21 each (84); the 5th needs 28 > 16 left. Settled at the
    // reservation instead (no usage read), the 4th would already be refused.
    for (let index = 0; index < 4; index += 1) {
      const answer = await postAsKey(
        `${harness.url}/v1/chat/completions`,
        LIMIT_KEYS.budget,
        { model: 'demo-chat', messages, max_tokens: 10 },
        STREAM_ALWAYS,
      );
      expect(answer.status).toBe(200);
      expect(((await answer.json()) as { object: string }).object).toBe('chat.completion');
    }
    await waitFor('four settlements', async () =>
      (metricValue(await harness.metricsText(), 'router_reservations_open') ?? 0) === 0 ? true : undefined,
    );
    const denied = await postAsKey(`${harness.url}/v1/inference`, LIMIT_KEYS.budget, {
      model: 'demo-chat',
      messages,
      max_output_tokens: 10,
    });
    expect(denied.status).toBe(402);
    const body = (await denied.json()) as { error: { code: string; details: Record<string, unknown> } };
    expect(body.error).toMatchObject({ code: 'budget_exhausted', details: { remaining_micros: 16 } });
  });
});

const head = {
  id: 'chatcmpl-sse',
  object: 'chat.completion.chunk',
  created: 1_700_000_000,
  model: 'mock-model',
};

/** SSE text of these chunks (each with the head fields), then the tail (`data: [DONE]` by default). */
function sse(chunks: readonly Record<string, unknown>[], tail = 'data: [DONE]\n\n'): string {
  return chunks.map((chunk) => `data: ${JSON.stringify({ ...head, ...chunk })}\n\n`).join('') + tail;
}

const toolCallChunks = [
  { choices: [{ index: 0, delta: { role: 'assistant', content: null }, finish_reason: null }] },
  {
    choices: [
      {
        index: 0,
        delta: {
          tool_calls: [
            { index: 0, id: 'call_a', type: 'function', function: { name: 'weather', arguments: '' } },
          ],
        },
        finish_reason: null,
      },
    ],
  },
  {
    choices: [
      {
        index: 0,
        delta: { tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] },
        finish_reason: null,
      },
    ],
  },
  {
    choices: [
      {
        index: 0,
        delta: { tool_calls: [{ index: 0, function: { arguments: '"Oslo"}' } }] },
        finish_reason: null,
      },
    ],
  },
  { choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] },
  { choices: [], usage: { prompt_tokens: 20, completion_tokens: 9, total_tokens: 29 } },
];

/** What the scripted backend answers a request whose `x-script` header names it: `text/event-stream`. */
const SCRIPTS: Record<string, string> = {
  tools: sse(toolCallChunks),
  // Cut short: the response ends cleanly but without the end marker.
  'cut-short': sse(toolCallChunks.slice(0, 3), ''),
  'error-event': sse(
    toolCallChunks.slice(0, 2),
    'data: {"error":{"message":"model is overloaded"}}\n\ndata: [DONE]\n\n',
  ),
  // Over the harness's 4 KiB cap for an answer read whole.
  long: sse(
    Array.from({ length: 60 }, () => ({
      choices: [{ index: 0, delta: { content: 'word ' }, finish_reason: null }],
    })),
  ),
};

describe('a backend answering requests for a whole completion with SSE', () => {
  let harness: InferenceHarness;
  let backend: Awaited<ReturnType<typeof startScriptedBackend>>;
  beforeAll(async () => {
    backend = await startScriptedBackend((name) => ({
      type: 'text/event-stream; charset=utf-8',
      body: SCRIPTS[name] ?? 'no script',
    }));
    const { url } = backend;
    harness = await startInferenceHarness({
      backendUrls: { 'mock-a': url, 'mock-b': url },
      config: { maxUpstreamResponseBytes: 4096 },
    });
  });
  afterAll(async () => {
    await harness.close();
    await backend.close();
  });

  it('gives the openai SDK the completion its create() without stream asked for, tool calls assembled', async () => {
    const client = new OpenAI({
      apiKey: testApiKey(TEST_KEYS.demo),
      baseURL: `${harness.url}/v1`,
      maxRetries: 0,
      defaultHeaders: { 'x-script': 'tools', 'x-request-id': 'unrequested-stream-tools' },
    });
    const completion = await client.chat.completions.create({
      model: 'demo-chat',
      messages: [{ role: 'user', content: 'Weather in Oslo?' }],
    });
    expect(completion).toMatchObject({
      id: 'chatcmpl-sse',
      object: 'chat.completion',
      created: 1_700_000_000,
      usage: { prompt_tokens: 20, completion_tokens: 9, total_tokens: 29 },
    });
    expect(completion.choices).toEqual([
      {
        index: 0,
        message: {
          role: 'assistant',
          content: null,
          refusal: null,
          tool_calls: [
            { id: 'call_a', type: 'function', function: { name: 'weather', arguments: '{"city":"Oslo"}' } },
          ],
        },
        logprobs: null,
        finish_reason: 'tool_calls',
      },
    ]);
    expect(await shippedUsageRecord(harness, 'unrequested-stream-tools')).toMatchObject({
      statusCode: 200,
      streamed: false,
      truncated: false,
      inputTokens: 20n,
      outputTokens: 9n,
    });
  });

  // The words: the backend's, in the logged cause only (the cut stream's last bytes, the error event).
  it.each([
    ['cut-short', 'The model backend stream ended early.', 'weather'],
    ['error-event', 'The model backend reported an error in its stream.', 'model is overloaded'],
  ])(
    'answers 502 upstream_error to a stream that does not end cleanly (%s), its words logged',
    async (script, message, words) => {
      const requestId = `unrequested-stream-${script}`;
      const response = await postAsKey(
        `${harness.url}/v1/chat/completions`,
        TEST_KEYS.demo,
        { model: 'demo-chat', messages },
        { 'x-script': script, 'x-request-id': requestId },
      );
      expect(response.status).toBe(502);
      const text = await response.text();
      expect(JSON.parse(text)).toMatchObject({ error: { code: 'upstream_error', message } });
      expect(text).not.toContain(words);
      await waitFor('the logged cause', () =>
        Promise.resolve(
          harness.logLinesOf(requestId).some((line) => JSON.stringify(line).includes(words))
            ? true
            : undefined,
        ),
      );
      expect(await shippedUsageRecord(harness, requestId)).toMatchObject({
        statusCode: 502,
        streamed: false,
      });
    },
  );

  it('caps the stream read whole at DP_MAX_UPSTREAM_RESPONSE_BYTES, as a JSON answer', async () => {
    const response = await postAsKey(
      `${harness.url}/v1/inference`,
      TEST_KEYS.demo,
      { model: 'demo-chat', messages },
      { 'x-script': 'long' },
    );
    expect(response.status).toBe(502);
    expect(await response.json()).toMatchObject({
      error: { code: 'upstream_error', details: { max_bytes: 4096 } },
    });
  });
});
