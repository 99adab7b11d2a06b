import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { systemTimers } from '../timers.js';
import { ClientClosedError } from './request-signal.js';
import { END_MARKER_GRACE_MS, relaySse, type SseEventAction } from './sse-relay.js';
import type { SseEvent } from './sse-event-parser.js';

/** An upstream body made of scripted chunks; counts how many the relay pulled. */
function source(chunks: (string | Error)[]) {
  const state = { pulled: 0, destroyed: false };
  const body = {
    async *[Symbol.asyncIterator]() {
      for (const chunk of chunks) {
        state.pulled += 1;
        await Promise.resolve();
        if (chunk instanceof Error) throw chunk;
        yield Buffer.from(chunk);
      }
    },
    destroy() {
      state.destroyed = true;
    },
  };
  return { body, state };
}

/**
 * An upstream body that sends its chunks, then stays open (a response held after its last event) until the
 * test ends it or the relay destroys it, which fails the pending read as undici's body does.
 */
function heldSource(chunks: string[]) {
  const state = { destroyed: false };
  let finish: (error?: Error) => void = () => undefined;
  const over = new Promise<void>((resolve, reject) => {
    finish = (error) => (error === undefined ? resolve() : reject(error));
  });
  void over.catch(() => undefined); // Destroyed before the body got to wait on it.
  const body = {
    async *[Symbol.asyncIterator]() {
      for (const chunk of chunks) {
        await Promise.resolve();
        yield Buffer.from(chunk);
      }
      await over;
    },
    destroy() {
      state.destroyed = true;
      finish(Object.assign(new Error('Request aborted'), { code: 'UND_ERR_ABORTED' }));
    },
  };
  return { body, state, end: () => finish() };
}

/** Runs every pending promise callback of the relay and its stand-ins (only timeouts are faked). */
const settle = () => new Promise((resolve) => setImmediate(resolve));

/** A client socket stand-in whose writes complete only when the test releases them. */
function slowClient() {
  const written: string[] = [];
  const pendingCallbacks: (() => void)[] = [];
  const destination = new Writable({
    highWaterMark: 1,
    write(chunk: Buffer, _encoding, callback) {
      written.push(chunk.toString());
      pendingCallbacks.push(() => callback());
    },
  });
  return {
    destination,
    written,
    release: () => pendingCallbacks.splice(0).forEach((callback) => callback()),
  };
}

function fastClient() {
  const written: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      written.push(chunk.toString());
      callback();
    },
  });
  return { destination, written };
}

const passThrough = (event: SseEvent): SseEventAction =>
  event.data === '[DONE]' ? { end: true } : event.raw;
const signal = () => new AbortController().signal;

describe('relaySse', () => {
  it('relays events split across chunks and completes on the end marker', async () => {
    const { body, state } = source([
      'data: {"a":',
      '1}\n\ndata: {"b":2}\r\n\r\n: comment\n\nda',
      'ta: [DONE]\n\n',
    ]);
    const client = fastClient();
    const outcome = await relaySse({
      source: body,
      destination: client.destination,
      signal: signal(),
      maxBytes: 1000,
      onEvent: passThrough,
      timers: systemTimers,
    });
    expect(outcome).toEqual({ kind: 'completed' });
    expect(client.written).toEqual(['data: {"a":1}\n\n', 'data: {"b":2}\n\n', ': comment\n\n']);
    expect(state.destroyed).toBe(false); // It ended by itself: its connection goes back to the pool.
  });

  it('reports a stream that ends without the end marker as truncated', async () => {
    const { body } = source(['data: {"a":1}\n\n', 'data: {"b"']);
    const outcome = await relaySse({
      source: body,
      destination: fastClient().destination,
      signal: signal(),
      maxBytes: 1000,
      onEvent: passThrough,
      timers: systemTimers,
    });
    expect(outcome).toMatchObject({
      kind: 'truncated',
      reason: 'upstream_closed',
      error: { code: 'upstream_error' },
    });
  });

  it.each(['data: [DONE]\n', 'data: [DONE]', 'data: [DONE]\r\n'])(
    'completes when the body ends right after an end marker without its blank line (%j)',
    async (last) => {
      // Some servers and proxies close the response after the marker's line: the stream is complete (the
      // OpenAI SDKs end it cleanly), not truncated.
      const { body } = source(['data: {"a":1}\n\n', last]);
      const client = fastClient();
      const outcome = await relaySse({
        source: body,
        destination: client.destination,
        signal: signal(),
        maxBytes: 1000,
        onEvent: passThrough,
        timers: systemTimers,
      });
      expect(outcome).toEqual({ kind: 'completed' });
      expect(client.written).toEqual(['data: {"a":1}\n\n']);
    },
  );

  it('writes nothing of an incomplete last event: the stream is truncated', async () => {
    const { body } = source(['data: {"a":1}\n\n', 'data: {"b":2}']);
    const client = fastClient();
    const outcome = await relaySse({
      source: body,
      destination: client.destination,
      signal: signal(),
      maxBytes: 1000,
      onEvent: passThrough,
      timers: systemTimers,
    });
    expect(outcome).toMatchObject({ kind: 'truncated', reason: 'upstream_closed' });
    expect(client.written).toEqual(['data: {"a":1}\n\n']);
  });

  it('reports an upstream that breaks mid-stream as truncated', async () => {
    const { body } = source([
      'data: {"a":1}\n\n',
      Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }),
    ]);
    const outcome = await relaySse({
      source: body,
      destination: fastClient().destination,
      signal: signal(),
      maxBytes: 1000,
      onEvent: passThrough,
      timers: systemTimers,
    });
    expect(outcome).toMatchObject({ kind: 'truncated', reason: 'upstream_error', error: { status: 502 } });
  });

  it('cuts a stream over the size cap', async () => {
    const { body, state } = source(['data: 1\n\n', 'data: 22222222222\n\n', 'data: [DONE]\n\n']);
    const outcome = await relaySse({
      source: body,
      destination: fastClient().destination,
      signal: signal(),
      maxBytes: 15,
      onEvent: passThrough,
      timers: systemTimers,
    });
    expect(outcome).toMatchObject({ kind: 'truncated', reason: 'too_large' });
    expect(state.destroyed).toBe(true);
  });

  // Memory is bounded by backpressure, not by the stream's length: a long stream (logprobs cost ~1 KB a
  // token) must not be cut for its total size, only for one event the relay would have to hold whole.
  it('relays a stream longer than the size cap whose events each fit, and cuts an unfinished event over it', async () => {
    const events = Array.from({ length: 40 }, (_, index) => `data: ${String(index).padStart(8, '0')}\n\n`);
    const long = source([...events, 'data: [DONE]\n\n']);
    const client = fastClient();
    const relayed = await relaySse({
      source: long.body,
      destination: client.destination,
      signal: signal(),
      maxBytes: 32,
      onEvent: passThrough,
      timers: systemTimers,
    });
    expect(relayed).toEqual({ kind: 'completed' });
    expect(client.written.join('')).toBe(events.join(''));
    // An event that never ends (no blank line) grows the parser's buffer: cut once it passes the cap.
    const endless = source(['data: 0123456789', '0123456789', '0123456789', '0123456789\n\n']);
    const cut = await relaySse({
      source: endless.body,
      destination: fastClient().destination,
      signal: signal(),
      maxBytes: 32,
      onEvent: passThrough,
      timers: systemTimers,
    });
    expect(cut).toMatchObject({ kind: 'truncated', reason: 'too_large' });
    expect(endless.state.destroyed).toBe(true);
  });

  it('reads no further upstream bytes while the client is not draining (backpressure)', async () => {
    const { body, state } = source(['data: 1\n\n', 'data: 2\n\n', 'data: 3\n\n', 'data: [DONE]\n\n']);
    const client = slowClient();
    const relay = relaySse({
      source: body,
      destination: client.destination,
      signal: signal(),
      maxBytes: 1000,
      onEvent: passThrough,
      timers: systemTimers,
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(client.written).toEqual(['data: 1\n\n']);
    expect(state.pulled).toBe(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(state.pulled).toBe(1); // still waiting for 'drain'
    for (let round = 0; round < 10 && client.written.length < 3; round += 1) {
      client.release();
      await new Promise((resolve) => setImmediate(resolve));
    }
    client.release();
    expect(await relay).toEqual({ kind: 'completed' });
    expect(client.written).toEqual(['data: 1\n\n', 'data: 2\n\n', 'data: 3\n\n']);
  });

  it('stops and abandons the upstream when the client goes away', async () => {
    const { body, state } = source(['data: 1\n\n', 'data: 2\n\n', 'data: [DONE]\n\n']);
    const client = slowClient();
    const controller = new AbortController();
    const relay = relaySse({
      source: body,
      destination: client.destination,
      signal: controller.signal,
      maxBytes: 1000,
      onEvent: passThrough,
      timers: systemTimers,
    });
    await new Promise((resolve) => setImmediate(resolve));
    controller.abort(new ClientClosedError());
    client.destination.destroy();
    expect(await relay).toEqual({ kind: 'client_closed' });
    expect(state.destroyed).toBe(true);
  });
});

describe('relaySse after the end marker', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Starts a relay of `body` with fake timeouts; `settled()` tells whether its outcome is in. */
  function relayWithFakeTimers(
    body: ReturnType<typeof heldSource>['body'],
    signal = new AbortController().signal,
  ) {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const client = fastClient();
    let done = false;
    const outcome = relaySse({
      source: body,
      destination: client.destination,
      signal,
      maxBytes: 1000,
      onEvent: passThrough,
      timers: systemTimers,
    }).finally(() => {
      done = true;
    });
    return { outcome, client, settled: () => done };
  }

  it('completes when the backend holds the response open after [DONE], and gives up its connection', async () => {
    const { body, state } = heldSource(['data: 1\n\n', 'data: [DONE]\n\n', ': kept open\n\n']);
    const relay = relayWithFakeTimers(body);
    await settle();
    expect(relay.settled()).toBe(false); // Waiting for the body's end, briefly.
    vi.advanceTimersByTime(END_MARKER_GRACE_MS);
    await settle();
    expect(relay.settled()).toBe(true);
    expect(await relay.outcome).toEqual({ kind: 'completed' });
    expect(state.destroyed).toBe(true);
    expect(relay.client.written).toEqual(['data: 1\n\n']);
  });

  it('waits within the grace for a body that ends after [DONE], without destroying it (keep-alive)', async () => {
    const { body, state, end } = heldSource(['data: 1\n\n', 'data: [DONE]\n\n']);
    const relay = relayWithFakeTimers(body);
    await settle();
    vi.advanceTimersByTime(END_MARKER_GRACE_MS - 1);
    await settle();
    expect(relay.settled()).toBe(false);
    end();
    expect(await relay.outcome).toEqual({ kind: 'completed' });
    expect(state.destroyed).toBe(false);
    vi.advanceTimersByTime(1); // The grace timer was cleared: nothing destroys the body afterwards.
    await settle();
    expect(state.destroyed).toBe(false);
  });

  it('reports a client that left after [DONE], before its clean end, as gone', async () => {
    const { body, state } = heldSource(['data: 1\n\n', 'data: [DONE]\n\n']);
    const controller = new AbortController();
    const relay = relayWithFakeTimers(body, controller.signal);
    await settle();
    controller.abort(new ClientClosedError());
    vi.advanceTimersByTime(END_MARKER_GRACE_MS);
    await settle();
    expect(relay.settled()).toBe(true);
    expect(await relay.outcome).toEqual({ kind: 'client_closed' });
    expect(state.destroyed).toBe(true);
  });
});
