import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@api-router/testing';
import { metricValue } from '../../test/support/data-plane-harness.js';
import { LIMIT_KEYS, buildLimitsSnapshot } from '../admission/limits-policy.test-support.js';
import {
  parseSse,
  postAsKey,
  shippedUsageRecord,
  startInferenceHarness,
  startScriptedBackend,
  type InferenceHarness,
} from '../testing/inference-harness.test-support.js';
import { TEST_KEYS, testApiKey } from '../testing/test-policy.test-support.js';

// A backend that ignores `stream: true` and answers a whole JSON chat.completion (some proxies and older
// self-hosted servers drop the flag): the client still gets an OpenAI-style stream, accounted as one.

// "hi": the mock counts 1 prompt token; with max tokens 10 it generates 10 ("length"). The limits policy
// prices demo-chat at 1 micro per input token and 2 per output token: 21 micros a request, 28 reserved.
const messages = [{ role: 'user', content: 'hi' }];
const IGNORE_STREAM = { 'x-mock-ignore-stream': '1' };

interface Chunk {
  object: string;
  choices: { index: number; delta: { role?: string; content?: string }; finish_reason: string | null }[];
  usage?: { prompt_tokens: number; completion_tokens: number };
}

/** Streams of demo-chat counted as truncated, whatever the reason. */
async function truncatedStreams(harness: InferenceHarness): Promise<number> {
  const text = await harness.metricsText();
  return ['upstream_closed', 'upstream_error', 'too_large', 'timeout']
    .map((reason) => metricValue(text, 'router_streams_truncated_total', { route: 'demo-chat', reason }) ?? 0)
    .reduce((sum, count) => sum + count, 0);
}

describe('the mock backend answering stream requests with JSON (x-mock-ignore-stream: 1)', () => {
  let harness: InferenceHarness;
  beforeAll(async () => {
    harness = await startInferenceHarness({
      buildSnapshot: (urls) => buildLimitsSnapshot({ backendUrls: urls }),
    });
  });
  afterAll(async () => {
    await harness.close();
  });

  it('/v1/chat/completions streams the completion as chunks, usage last when asked, then [DONE]', async () => {
    const requestId = 'ignored-stream-chat';
    const truncatedBefore = await truncatedStreams(harness);
    const response = await postAsKey(
      `${harness.url}/v1/chat/completions`,
      LIMIT_KEYS.free,
      { model: 'demo-chat', messages, max_tokens: 10, stream: true, stream_options: { include_usage: true } },
      { ...IGNORE_STREAM, 'x-request-id': requestId },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const { data, comments } = parseSse(await response.text());
    expect(data.at(-1)).toBe('[DONE]');
    const chunks = data.slice(0, -1).map((event) => JSON.parse(event) as Chunk);
    expect(chunks.every((chunk) => chunk.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks[0]?.choices[0]?.delta).toEqual({ role: 'assistant' });
    const text = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe('tok0 tok1 tok2 tok3 tok4 tok5 tok6 tok7 tok8 tok9');
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('length');
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 1, completion_tokens: 10 } });
    // The router's closing comment, with the time to first token, as after a real stream.
    const router = comments.find((comment) => comment.startsWith(': router '));
    const metrics = JSON.parse(router!.slice(': router '.length)) as Record<string, number>;
    expect(metrics.time_to_first_token_ms).toBeGreaterThan(0);
    expect(metrics.time_to_first_token_ms).toBeLessThanOrEqual(metrics.total_ms!);

    const record = await shippedUsageRecord(harness, requestId);
    expect(record).toMatchObject({
      statusCode: 200,
      streamed: true,
      truncated: false,
      inputTokens: 1n,
      outputTokens: 10n,
      costMicros: 21n,
    });
    expect(record.timeToFirstTokenMs).toBeGreaterThan(0);
    expect(await truncatedStreams(harness)).toBe(truncatedBefore);
  });

  it('/v1/chat/completions leaves the usage chunk out when the client did not ask, and still records it', async () => {
    const requestId = 'ignored-stream-chat-no-usage';
    const response = await postAsKey(
      `${harness.url}/v1/chat/completions`,
      LIMIT_KEYS.free,
      { model: 'demo-chat', messages, max_tokens: 10, stream: true },
      { ...IGNORE_STREAM, 'x-request-id': requestId },
    );
    const { data } = parseSse(await response.text());
    expect(data.at(-1)).toBe('[DONE]');
    const chunks = data.slice(0, -1).map((event) => JSON.parse(event) as Chunk);
    expect(chunks.some((chunk) => chunk.usage !== undefined || chunk.choices.length === 0)).toBe(false);
    expect(await shippedUsageRecord(harness, requestId)).toMatchObject({
      streamed: true,
      truncated: false,
      outputTokens: 10n,
    });
  });

  it('/v1/inference streams its own events from the completion', async () => {
    const requestId = 'ignored-stream-inference';
    const response = await postAsKey(
      `${harness.url}/v1/inference`,
      LIMIT_KEYS.free,
      { model: 'demo-chat', messages, max_output_tokens: 10, stream: true },
      { ...IGNORE_STREAM, 'x-request-id': requestId },
    );
    const { data } = parseSse(await response.text());
    expect(data.at(-1)).toBe('[DONE]');
    const events = data.slice(0, -1).map(
      (event) =>
        JSON.parse(event) as {
          output?: { content: string };
          finish_reason?: string;
          usage?: { output_tokens: string };
          router?: { time_to_first_token_ms: number };
        },
    );
    expect(events[0]?.output?.content).toBe('tok0 tok1 tok2 tok3 tok4 tok5 tok6 tok7 tok8 tok9');
    expect(events.at(-1)).toMatchObject({ finish_reason: 'length', usage: { output_tokens: '10' } });
    expect(events.at(-1)?.router?.time_to_first_token_ms).toBeGreaterThan(0);
    expect(await shippedUsageRecord(harness, requestId)).toMatchObject({ streamed: true, outputTokens: 10n });
  });

  it('settles the budget with the real usage, as for a real stream', async () => {
    // Budget 100 micros: 4 streams settle at 21 each (84); the 5th needs 28 > 16 left. Settled at the
    // reservation instead (no usage read), the 4th would already be refused.
    for (let index = 0; index < 4; index += 1) {
      const stream = await postAsKey(
        `${harness.url}/v1/chat/completions`,
        LIMIT_KEYS.budget,
        { model: 'demo-chat', messages, max_tokens: 10, stream: true },
        IGNORE_STREAM,
      );
      expect(stream.status).toBe(200);
      expect(parseSse(await stream.text()).data.at(-1)).toBe('[DONE]');
    }
    await waitFor('four settlements', async () =>
      (metricValue(await harness.metricsText(), 'router_reservations_open') ?? 0) === 0 ? true : undefined,
    );
    // The router's error shape names what is left.
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

/** What the scripted backend answers a request whose `x-script` header names it: content type and body. */
const SCRIPTS: Record<string, { type: string; body: string }> = {
  tools: {
    type: 'application/json',
    body: JSON.stringify({
      id: 'chatcmpl-tools',
      object: 'chat.completion',
      created: 1_700_000_000,
      model: 'mock-model',
      system_fingerprint: 'fp_tools',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: null,
            refusal: null,
            tool_calls: [
              { id: 'call_a', type: 'function', function: { name: 'weather', arguments: '{"city":"Oslo"}' } },
              { id: 'call_b', type: 'function', function: { name: 'time', arguments: '{"zone":"CET"}' } },
            ],
          },
          logprobs: null,
          finish_reason: 'tool_calls',
        },
      ],
      usage: { prompt_tokens: 20, completion_tokens: 9, total_tokens: 29 },
    }),
  },
  error: {
    type: 'application/json; charset=utf-8',
    body: JSON.stringify({ error: { message: 'model is overloaded', type: 'server_error', code: null } }),
  },
  garbage: { type: 'application/json', body: 'Internal Server Error' },
  // A stream labelled JSON by a proxy: still relayed as the stream it is.
  mislabelled: {
    type: 'application/json',
    body:
      'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n' +
      'data: [DONE]\n\n',
  },
};

describe('a backend answering stream requests with whole JSON bodies', () => {
  let harness: InferenceHarness;
  let backend: Awaited<ReturnType<typeof startScriptedBackend>>;
  beforeAll(async () => {
    backend = await startScriptedBackend((name) => {
      const script = SCRIPTS[name];
      return { type: script?.type ?? 'text/plain', body: script?.body ?? 'no script' };
    });
    const { url } = backend;
    harness = await startInferenceHarness({ backendUrls: { 'mock-a': url, 'mock-b': url } });
  });
  afterAll(async () => {
    await harness.close();
    await backend.close();
  });

  it('gives the openai SDK a stream whose tool calls accumulate to the completion', async () => {
    const client = new OpenAI({
      apiKey: testApiKey(TEST_KEYS.demo),
      baseURL: `${harness.url}/v1`,
      maxRetries: 0,
      defaultHeaders: { 'x-script': 'tools', 'x-request-id': 'ignored-stream-tools' },
    });
    const stream = client.chat.completions.stream({
      model: 'demo-chat',
      messages: [{ role: 'user', content: 'Weather and time in Oslo?' }],
      stream_options: { include_usage: true },
    });
    const completion = await stream.finalChatCompletion();
    expect(completion).toMatchObject({
      id: 'chatcmpl-tools',
      created: 1_700_000_000,
      system_fingerprint: 'fp_tools',
      usage: { prompt_tokens: 20, completion_tokens: 9 },
    });
    expect(completion.choices[0]?.finish_reason).toBe('tool_calls');
    expect(completion.choices[0]?.message.tool_calls).toEqual([
      { id: 'call_a', type: 'function', function: { name: 'weather', arguments: '{"city":"Oslo"}' } },
      { id: 'call_b', type: 'function', function: { name: 'time', arguments: '{"zone":"CET"}' } },
    ]);
    const record = await shippedUsageRecord(harness, 'ignored-stream-tools');
    expect(record).toMatchObject({ streamed: true, truncated: false, inputTokens: 20n, outputTokens: 9n });
    // A tool call is generated output: the time to first token is set.
    expect(record.timeToFirstTokenMs).toBeGreaterThan(0);
  });

  it.each(['error', 'garbage'])(
    'ends the stream as a broken one when the JSON is not a completion (%s)',
    async (script) => {
      const requestId = `ignored-stream-${script}`;
      const truncatedBefore = await truncatedStreams(harness);
      const response = await postAsKey(
        `${harness.url}/v1/chat/completions`,
        TEST_KEYS.demo,
        { model: 'demo-chat', messages, stream: true },
        { 'x-script': script, 'x-request-id': requestId },
      );
      expect(response.status).toBe(200);
      const { data } = parseSse(await response.text());
      expect(data).not.toContain('[DONE]');
      expect(data).toHaveLength(1);
      expect(JSON.parse(data[0]!)).toMatchObject({ error: { code: 'upstream_error' } });
      expect(await truncatedStreams(harness)).toBe(truncatedBefore + 1);
      expect(await shippedUsageRecord(harness, requestId)).toMatchObject({
        streamed: true,
        truncated: true,
        statusCode: 200,
      });
    },
  );

  it('relays a stream labelled application/json as the stream it is', async () => {
    const response = await postAsKey(
      `${harness.url}/v1/chat/completions`,
      TEST_KEYS.demo,
      { model: 'demo-chat', messages, stream: true },
      { 'x-script': 'mislabelled' },
    );
    const { data } = parseSse(await response.text());
    expect(data.at(-1)).toBe('[DONE]');
    expect(JSON.parse(data[0]!)).toMatchObject({ choices: [{ delta: { content: 'Hi' } }] });
  });
});
