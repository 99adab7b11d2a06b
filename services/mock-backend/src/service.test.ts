import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '@api-router/observability';
import type { ChatCompletion, ChatCompletionChunk } from './chat-completion-wire.js';
import type { MockBackendOptions } from './config.js';
import { startMockBackend, type MockBackend } from './service.js';
import type { Sleep } from './sleep.js';
import { countPromptTokens } from './token-accounting.js';

const messages = [{ role: 'user', content: 'Stream me something deterministic.' }];
const promptTokens = countPromptTokens(messages);

let running: MockBackend[] = [];
afterEach(async () => {
  await Promise.all(running.map((backend) => backend.close()));
  running = [];
});

interface Started {
  backend: MockBackend;
  sleeps: number[];
  logLines: Array<Record<string, unknown>>;
}

/** A real server on 127.0.0.1:0; `sleep` defaults to a recorder that does not wait. */
async function start(options: MockBackendOptions = {}, sleep?: Sleep): Promise<Started> {
  const sleeps: number[] = [];
  const logLines: Array<Record<string, unknown>> = [];
  const logger = createLogger({
    service: 'mock-backend-test',
    level: 'info',
    destination: { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) },
  });
  const recordingSleep: Sleep = (ms) => {
    sleeps.push(ms);
    return Promise.resolve();
  };
  const backend = await startMockBackend(
    { id: 'stream-backend', ...options },
    { logger, sleep: sleep ?? recordingSleep },
  );
  running.push(backend);
  return { backend, sleeps, logLines };
}

function post(
  backend: MockBackend,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
  signal?: AbortSignal,
): Promise<Response> {
  return fetch(`${backend.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'mock-model', messages, ...body }),
    ...(signal === undefined ? {} : { signal }),
  });
}

/** Splits an SSE body into the payloads of its `data:` events. */
function sseData(text: string): string[] {
  return text
    .split('\n\n')
    .filter((event) => event.trim() !== '')
    .map((event) => {
      expect(event.startsWith('data: ')).toBe(true);
      return event.slice('data: '.length);
    });
}

function parseChunks(payloads: string[]): ChatCompletionChunk[] {
  return payloads.map((payload) => JSON.parse(payload) as ChatCompletionChunk);
}

async function completion(response: Response): Promise<ChatCompletion> {
  return (await response.json()) as ChatCompletion;
}

/** Reads a body to its end or its failure; returns what arrived and whether it ended cleanly. */
async function readAll(response: Response): Promise<{ text: string; failed: boolean }> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { text, failed: false };
      text += decoder.decode(value as Uint8Array, { stream: true });
    }
  } catch {
    // The failure is the outcome under test; the caller asserts on `failed`.
    return { text, failed: true };
  }
}

describe('streaming', () => {
  it('sends the OpenAI chunk sequence: role, content pieces, finish, usage, [DONE]', async () => {
    const { backend } = await start({ faults: { outputTokens: 4 } });
    const response = await post(backend, { stream: true, stream_options: { include_usage: true } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(response.headers.get('x-mock-backend-id')).toBe('stream-backend');
    const { text, failed } = await readAll(response);
    expect(failed).toBe(false);
    const data = sseData(text);
    expect(data.at(-1)).toBe('[DONE]');
    const chunks = parseChunks(data.slice(0, -1));
    expect(chunks).toHaveLength(1 + 4 + 1 + 1);
    for (const chunk of chunks) {
      expect(Object.keys(chunk).sort()).toEqual([
        'choices',
        'created',
        'id',
        'model',
        'object',
        'system_fingerprint',
        'usage',
      ]);
      expect(chunk).toMatchObject({
        id: chunks[0]!.id,
        object: 'chat.completion.chunk',
        model: 'mock-model',
      });
      expect(Number.isInteger(chunk.created)).toBe(true);
    }
    expect(chunks[0]!.choices).toEqual([
      { index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null },
    ]);
    expect(chunks.slice(1, 5).map((chunk) => chunk.choices[0]!.delta)).toEqual([
      { content: 'tok0' },
      { content: ' tok1' },
      { content: ' tok2' },
      { content: ' tok3' },
    ]);
    expect(chunks.slice(0, 6).every((chunk) => chunk.usage === null)).toBe(true);
    expect(chunks[5]!.choices).toEqual([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]);
    expect(chunks[6]!.choices).toEqual([]);
    expect(chunks[6]!.usage).toEqual({
      prompt_tokens: promptTokens,
      completion_tokens: 4,
      total_tokens: promptTokens + 4,
    });
  });

  it('always sends the usage chunk, even without include_usage (non-final chunks then carry no usage key)', async () => {
    const { backend } = await start({ faults: { outputTokens: 2 } });
    const { text } = await readAll(await post(backend, { stream: true, max_tokens: 1 }));
    const chunks = parseChunks(sseData(text).slice(0, -1));
    expect(chunks.slice(0, -1).every((chunk) => !('usage' in chunk))).toBe(true);
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('length');
    expect(chunks.at(-1)!.usage).toEqual({
      prompt_tokens: promptTokens,
      completion_tokens: 1,
      total_tokens: promptTokens + 1,
    });
  });

  it('completes a long unpaced stream (larger than the socket buffer)', async () => {
    const { backend } = await start({ faults: { outputTokens: 5000 } });
    const { text, failed } = await readAll(await post(backend, { stream: true, max_tokens: 5000 }));
    expect(failed).toBe(false);
    const data = sseData(text);
    expect(data.at(-1)).toBe('[DONE]');
    expect(data).toHaveLength(1 + 5000 + 1 + 1 + 1);
  });

  it('drops the connection after N content chunks with x-mock-truncate-after: no usage, no [DONE]', async () => {
    const { backend } = await start({ faults: { outputTokens: 10 } });
    const { text, failed } = await readAll(
      await post(backend, { stream: true }, { 'x-mock-truncate-after': '2' }),
    );
    expect(failed).toBe(true);
    const data = sseData(text);
    expect(data).not.toContain('[DONE]');
    const chunks = parseChunks(data);
    expect(chunks.map((chunk) => chunk.choices[0]?.delta.content)).toEqual(['', 'tok0', ' tok1']);
  });

  it('paces the stream: first-byte delay once, chunk delay between content chunks', async () => {
    const { backend, sleeps } = await start();
    const headers = {
      'x-mock-first-byte-delay-ms': '300',
      'x-mock-chunk-delay-ms': '20',
      'x-mock-output-tokens': '3',
    };
    const { text, failed } = await readAll(await post(backend, { stream: true }, headers));
    expect(failed).toBe(false);
    expect(sseData(text).at(-1)).toBe('[DONE]');
    expect(sleeps).toEqual([300, 20, 20]);
  });

  it.each([
    ['mid-stream', { stream: true }, { 'x-mock-chunk-delay-ms': '50' }],
    ['during the latency', {}, { 'x-mock-latency-ms': '5000' }],
  ])('stops work when the client goes away %s, without logging', async (_case, body, headers) => {
    let sleepStarted: () => void = () => undefined;
    let sleepAborted: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (sleepStarted = resolve));
    const aborted = new Promise<void>((resolve) => (sleepAborted = resolve));
    const blockingSleep: Sleep = (_ms, signal) =>
      new Promise((_resolve, reject) => {
        sleepStarted();
        const onAbort = () => {
          reject(new DOMException('aborted', 'AbortError'));
          sleepAborted();
        };
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    const { backend, logLines } = await start({ faults: { outputTokens: 5 } }, blockingSleep);
    const client = new AbortController();
    const responding = post(backend, body, headers, client.signal).then(readAll);
    await started;
    client.abort();
    // Depending on timing the abort fails the fetch itself or the body read; either way it must not complete.
    const outcome = await responding.then(
      ({ failed }) => (failed ? 'failed' : 'completed'),
      () => 'failed',
    );
    expect(outcome).toBe('failed');
    await aborted; // the server noticed the disconnect
    await new Promise((resolve) => setImmediate(resolve)); // and the rejection reached the handlers
    await backend.close();
    expect(logLines.filter((line) => (line.level as number) >= 40)).toEqual([]);
  });
});

describe('slow and truncated JSON bodies', () => {
  it('writes the same body in delayed pieces', async () => {
    const { backend, sleeps } = await start();
    const plain = await completion(await post(backend, {}));
    const slow = await post(
      backend,
      {},
      { 'x-mock-chunk-delay-ms': '15', 'x-mock-first-byte-delay-ms': '40' },
    );
    const body = await completion(slow);
    expect({ ...body, id: plain.id }).toEqual(plain);
    expect(sleeps[0]).toBe(40);
    expect(sleeps.length).toBeGreaterThan(2);
    expect(sleeps.slice(1).every((ms) => ms === 15)).toBe(true);
  });

  it('drops the connection after N body bytes', async () => {
    const { backend } = await start();
    const response = await post(backend, {}, { 'x-mock-truncate-after': '25' });
    expect(response.status).toBe(200);
    const { text, failed } = await readAll(response);
    expect(failed).toBe(true);
    expect(text.length).toBeLessThanOrEqual(25);
  });
});

describe('startMockBackend', () => {
  it('works with await using', async () => {
    let url = '';
    {
      await using backend = await startMockBackend(
        { id: 'scoped' },
        { logger: createLogger({ service: 't', level: 'silent' }) },
      );
      url = backend.url;
      expect((await fetch(`${url}/health`)).headers.get('x-mock-backend-id')).toBe('scoped');
    }
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  });

  it('logs the listening url and serves on it', async () => {
    const { backend, logLines } = await start();
    expect(backend.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(logLines).toContainEqual(
      expect.objectContaining({ msg: 'listening', url: backend.url, id: 'stream-backend' }),
    );
    const health = await fetch(`${backend.url}/health`);
    expect(await health.json()).toEqual({ status: 'ok' });
  });

  it('exposes health, faults and recorded requests in-process', async () => {
    const { backend } = await start();
    backend.setHealthy(false);
    expect((await fetch(`${backend.url}/health`)).status).toBe(503);
    backend.setFaults({ outputTokens: 1 });
    const body = await completion(await post(backend, {}, { authorization: 'Bearer secret-key' }));
    expect(body.choices[0]!.message.content).toBe('tok0');
    expect(backend.requests().map((request) => request.url)).toEqual(['/health', '/v1/chat/completions']);
    expect(backend.requests()[1]?.headers.authorization).toBe('[redacted]');
    backend.clearRequests();
    expect(backend.requests()).toEqual([]);
  });

  it('is AsyncDisposable, closing idempotently and cutting open streams', async () => {
    const neverEndingSleep: Sleep = (_ms, signal) =>
      new Promise((_resolve, reject) =>
        signal?.addEventListener('abort', () => reject(new Error('aborted')), { once: true }),
      );
    const { backend } = await start({}, neverEndingSleep);
    const response = await post(backend, { stream: true }, { 'x-mock-first-byte-delay-ms': '1000' });
    const reading = readAll(response);
    await backend[Symbol.asyncDispose]();
    await backend.close();
    await expect(reading).resolves.toMatchObject({ failed: true });
    await expect(fetch(`${backend.url}/health`)).rejects.toThrow();
  });
});
