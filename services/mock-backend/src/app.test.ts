import { describe, expect, it } from 'vitest';
import { buildTestApp, TEST_NOW_MS } from './app-harness.test-support.js';
import type { ChatCompletion, ChatCompletionChunk } from './chat-completion-wire.js';
import { countPromptTokens } from './token-accounting.js';

const messages = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Say hello to the router tests.' },
];

describe('POST /v1/chat/completions (JSON)', () => {
  it('answers in the OpenAI chat.completion shape with deterministic content and usage', async () => {
    await using test = buildTestApp({ faults: { outputTokens: 5 } });
    const { app } = test;
    const response = await app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      payload: { model: 'gpt-x', messages, max_tokens: 100 },
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(response.headers['x-mock-backend-id']).toBe('backend-a');
    const body = response.json<ChatCompletion>();
    expect(Object.keys(body).sort()).toEqual([
      'choices',
      'created',
      'id',
      'model',
      'object',
      'system_fingerprint',
      'usage',
    ]);
    const promptTokens = countPromptTokens(messages);
    expect(promptTokens).toBe(
      Math.ceil(('You are terse.'.length + 'Say hello to the router tests.'.length) / 4),
    );
    expect(body).toEqual({
      id: 'chatcmpl-backend-a-1',
      object: 'chat.completion',
      created: Math.floor(TEST_NOW_MS / 1000),
      model: 'gpt-x',
      system_fingerprint: null,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'tok0 tok1 tok2 tok3 tok4', refusal: null },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      usage: { prompt_tokens: promptTokens, completion_tokens: 5, total_tokens: promptTokens + 5 },
    });
  });

  it('cuts the completion at max_completion_tokens with finish_reason "length"', async () => {
    await using test = buildTestApp();
    const { app } = test;
    const response = await app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { 'x-mock-output-tokens': '50' },
      payload: { model: 'm', messages, max_completion_tokens: 3, temperature: 0.2 },
    });
    const body = response.json();
    expect(body.choices[0].message.content).toBe('tok0 tok1 tok2');
    expect(body.choices[0].finish_reason).toBe('length');
    expect(body.usage.completion_tokens).toBe(3);
  });

  it('rejects a malformed body with an OpenAI error naming the field', async () => {
    await using test = buildTestApp();
    const { app } = test;
    const response = await app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      payload: { model: 'm', messages: [] },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({
      error: { message: expect.any(String), type: 'invalid_request_error', param: 'messages', code: null },
    });
    const badJson = await app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { 'content-type': 'application/json' },
      payload: '{"model":',
    });
    expect(badJson.statusCode).toBe(400);
    expect(badJson.json().error.type).toBe('invalid_request_error');
    expect(badJson.headers['x-mock-backend-id']).toBe('backend-a');
  });
});

describe('fault injection', () => {
  it('forces a status with an OpenAI error body, Retry-After on 429/503, and the identity header', async () => {
    await using test = buildTestApp();
    const { app } = test;
    const response = await app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { 'x-mock-status': '503' },
      payload: { model: 'm', messages },
    });
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('1');
    expect(response.headers['x-mock-backend-id']).toBe('backend-a');
    expect(response.json()).toEqual({
      error: {
        message: expect.stringContaining('503'),
        type: 'server_error',
        param: null,
        code: 'mock_forced_status',
      },
    });
    const notFound = await app.inject({
      method: 'GET',
      url: '/v1/models',
      headers: { 'x-mock-status': '404' },
    });
    expect(notFound.json().error.type).toBe('not_found_error');
  });

  it('answers a stream request with a whole JSON completion under x-mock-ignore-stream: 1', async () => {
    await using test = buildTestApp({ faults: { outputTokens: 3 } });
    const { app } = test;
    const response = await app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { 'x-mock-ignore-stream': '1' },
      payload: { model: 'm', messages, stream: true, stream_options: { include_usage: true } },
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    const body = response.json<ChatCompletion>();
    expect(body.object).toBe('chat.completion');
    expect(body.choices[0]?.message.content).toBe('tok0 tok1 tok2');
    expect(body.usage.completion_tokens).toBe(3);
  });

  it('answers a request without stream with a stream under x-mock-stream-always: 1', async () => {
    await using test = buildTestApp({ faults: { outputTokens: 3 } });
    const { app } = test;
    const response = await app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { 'x-mock-stream-always': '1' },
      payload: { model: 'm', messages },
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/event-stream/);
    const data = response.body
      .split('\n\n')
      .filter((event) => event.startsWith('data: '))
      .map((event) => event.slice('data: '.length));
    expect(data.at(-1)).toBe('[DONE]');
    const chunks = data.slice(0, -1).map((event) => JSON.parse(event) as ChatCompletionChunk);
    expect(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')).toBe('tok0 tok1 tok2');
    expect(chunks.at(-1)?.usage).toMatchObject({ completion_tokens: 3 });
  });

  it('honours the latency header by sleeping before answering', async () => {
    await using test = buildTestApp({ faults: { latencyMs: 7 } });
    const { app, sleeps } = test;
    const response = await app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { 'x-mock-latency-ms': '1200' },
      payload: { model: 'm', messages },
    });
    expect(response.statusCode).toBe(200);
    expect(sleeps).toEqual([1200]);
    await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: { model: 'm', messages } });
    expect(sleeps).toEqual([1200, 7]);
  });

  it('fails with 500 when the injected random draw falls under the error rate', async () => {
    await using test = buildTestApp({ faults: { errorRate: 0.3 } }, [0.1, 0.5]);
    const { app } = test;
    const first = await app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      payload: { model: 'm', messages },
    });
    const second = await app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      payload: { model: 'm', messages },
    });
    expect(first.statusCode).toBe(500);
    expect(first.json().error).toMatchObject({ type: 'server_error', code: 'mock_injected_error' });
    expect(second.statusCode).toBe(200);
  });

  it('rejects a malformed fault header with 400', async () => {
    await using test = buildTestApp();
    const { app } = test;
    const response = await app.inject({
      method: 'GET',
      url: '/v1/models',
      headers: { 'x-mock-error-rate': 'often' },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toMatchObject({ code: 'invalid_mock_header', param: 'x-mock-error-rate' });
  });
});

describe('unknown routes', () => {
  it('answer 404 in the OpenAI error shape', async () => {
    await using test = buildTestApp();
    const { app } = test;
    const response = await app.inject({ method: 'POST', url: '/v1/completions', payload: {} });
    expect(response.statusCode).toBe(404);
    expect(response.json().error.type).toBe('not_found_error');
  });
});
