// Helpers for tests that run a real mock backend on 127.0.0.1:0 and talk to it with fetch.
import { createLogger } from '@api-router/observability';
import type { ChatCompletion, ChatCompletionChunk } from './chat-completion-wire.js';
import type { MockBackendOptions } from './config.js';
import { startMockBackend, type MockBackend } from './service.js';
import type { Sleep } from './sleep.js';

export const TEST_MESSAGES = [{ role: 'user', content: 'Stream me something deterministic.' }];

export interface TestBackend extends AsyncDisposable {
  backend: MockBackend;
  /** Delays the backend asked for, in order (with the default recording sleep). */
  sleeps: number[];
  /** Parsed log lines the backend wrote. */
  logLines: Array<Record<string, unknown>>;
}

/** Starts a backend with id "test-backend"; `sleep` defaults to a recorder that does not wait. */
export async function startTestBackend(
  options: MockBackendOptions = {},
  sleep?: Sleep,
): Promise<TestBackend> {
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
    { id: 'test-backend', ...options },
    { logger, sleep: sleep ?? recordingSleep },
  );
  return { backend, sleeps, logLines, [Symbol.asyncDispose]: () => backend.close() };
}

/** A sleep that never ends by itself: it rejects with an AbortError when its signal aborts. */
export function createBlockingSleep(): { sleep: Sleep; started: Promise<void>; aborted: Promise<void> } {
  let markStarted: () => void = () => undefined;
  let markAborted: () => void = () => undefined;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  const aborted = new Promise<void>((resolve) => (markAborted = resolve));
  const sleep: Sleep = (_ms, signal) =>
    new Promise((_resolve, reject) => {
      markStarted();
      const onAbort = () => {
        reject(new DOMException('aborted', 'AbortError'));
        markAborted();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  return { sleep, started, aborted };
}

/** POSTs a chat completion for TEST_MESSAGES with `body` merged in. */
export function postChat(
  backend: MockBackend,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
  signal?: AbortSignal,
): Promise<Response> {
  return fetch(`${backend.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'mock-model', messages: TEST_MESSAGES, ...body }),
    ...(signal === undefined ? {} : { signal }),
  });
}

/** Splits an SSE body into the payloads of its `data:` events; throws on any other kind of line. */
export function sseData(text: string): string[] {
  return text
    .split('\n\n')
    .filter((event) => event.trim() !== '')
    .map((event) => {
      if (!event.startsWith('data: ')) throw new Error(`not a data event: ${event}`);
      return event.slice('data: '.length);
    });
}

export function parseChunks(payloads: string[]): ChatCompletionChunk[] {
  return payloads.map((payload) => JSON.parse(payload) as ChatCompletionChunk);
}

export async function readCompletion(response: Response): Promise<ChatCompletion> {
  return (await response.json()) as ChatCompletion;
}

/** Reads a body to its end or its failure; returns what arrived and whether it ended cleanly. */
export async function readAll(response: Response): Promise<{ text: string; failed: boolean }> {
  const reader = response.body!.getReader() as ReadableStreamDefaultReader<Uint8Array>;
  const decoder = new TextDecoder();
  let text = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { text, failed: false };
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    // The failure is the outcome under test; the caller asserts on `failed`.
    return { text, failed: true };
  }
}
