import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ClientClosedError } from './request-signal.js';
import { relaySse, type SseEventAction } from './sse-relay.js';
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
    const { body } = source(['data: {"a":', '1}\n\ndata: {"b":2}\r\n\r\n: comment\n\nda', 'ta: [DONE]\n\n']);
    const client = fastClient();
    const outcome = await relaySse({
      source: body,
      destination: client.destination,
      signal: signal(),
      maxBytes: 1000,
      onEvent: passThrough,
    });
    expect(outcome).toEqual({ kind: 'completed' });
    expect(client.written).toEqual(['data: {"a":1}\n\n', 'data: {"b":2}\n\n', ': comment\n\n']);
  });

  it('reports a stream that ends without the end marker as truncated', async () => {
    const { body } = source(['data: {"a":1}\n\n', 'data: {"b"']);
    const outcome = await relaySse({
      source: body,
      destination: fastClient().destination,
      signal: signal(),
      maxBytes: 1000,
      onEvent: passThrough,
    });
    expect(outcome).toMatchObject({
      kind: 'truncated',
      reason: 'upstream_closed',
      error: { code: 'upstream_error' },
    });
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
    });
    expect(outcome).toMatchObject({ kind: 'truncated', reason: 'too_large' });
    expect(state.destroyed).toBe(true);
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
    });
    await new Promise((resolve) => setImmediate(resolve));
    controller.abort(new ClientClosedError());
    client.destination.destroy();
    expect(await relay).toEqual({ kind: 'client_closed' });
    expect(state.destroyed).toBe(true);
  });
});
