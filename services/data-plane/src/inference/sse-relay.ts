import type { Writable } from 'node:stream';
import { RouterError } from '@api-router/errors';
import { upstreamBodyError } from '../upstream/read-upstream-body.js';
import type { UpstreamBody } from '../upstream/upstream-client.js';
import { ClientClosedError } from './request-signal.js';
import { SseEventParser, type SseEvent } from './sse-event-parser.js';
import { type CancelSignal } from '../cancel-signal.js';
import type { TimerHandle, Timers } from '../timers.js';

/**
 * How long the relay waits, once the backend sent its end marker, for the upstream body to end by itself.
 * A backend ends its response right after `data: [DONE]`: the terminating chunk follows within microseconds
 * (often in the same packet), and letting undici read it keeps the connection in its pool, where destroying
 * the body first would close it. A backend (or a proxy in front of it) that holds the response open after
 * [DONE] must not keep the client waiting for a stream that is complete, nor let the request deadline turn
 * it into a timeout: after this grace the body is destroyed (that one connection is lost) and the stream
 * ends cleanly. 250 ms is orders of magnitude above the gap between two chunks of one upstream write, even
 * on a loaded host, and short enough that no client or person notices it.
 */
export const END_MARKER_GRACE_MS = 250;

/**
 * What to do with one upstream event: text to write ("" writes nothing), `end` for the clean end, or
 * `upstreamError` (the event's data, logged, never relayed) for an error the backend reported in the stream.
 */
export type SseEventAction = string | { readonly end: true } | { readonly upstreamError: string };

export interface SseRelayOptions {
  readonly source: UpstreamBody;
  /** The client response (reply.raw), headers already sent. */
  readonly destination: Writable;
  /** The request's signal: deadline or client gone. */
  readonly signal: CancelSignal;
  /** Largest event (or unfinished event) held, in characters; a larger one cuts the stream (too_large). */
  readonly maxBytes: number;
  readonly onEvent: (event: SseEvent) => SseEventAction;
  /** Times the wait for the upstream body's end after the end marker ({@link END_MARKER_GRACE_MS}). */
  readonly timers: Timers;
}

/**
 * How a relay ended. `completed`: the upstream sent its clean end marker (and closed, or did not within
 * {@link END_MARKER_GRACE_MS}: the stream was complete all the same). `truncated`: it did not send it
 * (closed early, broke, reported an error, stalled, had an event over the size cap, or the deadline passed) — the
 * caller must send the client an error event, never a clean end. `client_closed`: nobody is listening any
 * more.
 */
export type SseRelayOutcome =
  | { readonly kind: 'completed' }
  | { readonly kind: 'truncated'; readonly reason: string; readonly error: RouterError }
  | { readonly kind: 'client_closed' };

/**
 * Relays an upstream SSE stream to the client event by event, with backpressure: when the client socket's
 * buffer is full (`write` returns false) no more upstream bytes are read until it drains, so a slow client
 * slows the backend instead of growing memory. Events are translated by `onEvent`. Never throws.
 */
export async function relaySse(options: SseRelayOptions): Promise<SseRelayOutcome> {
  const { source, destination, signal } = options;
  const parser = new SseEventParser();
  // Iterated by hand, not with `for await`: leaving a `for await` loop early destroys the body (its
  // iterator's return()), and at the end marker the relay must stop without closing a connection that the
  // backend is about to end cleanly (and undici to reuse). Every other early exit destroys the body itself.
  const chunks = source[Symbol.asyncIterator]();
  try {
    for (let next = await chunks.next(); next.done !== true; next = await chunks.next()) {
      const events = parser.push(next.value);
      // What the relay holds: one event (or its unfinished start). The stream's length is not bounded here:
      // backpressure bounds memory, the deadline bounds time, and a long stream (logprobs cost ~1 KB a
      // token) is a normal one.
      if (
        parser.pendingLength() > options.maxBytes ||
        events.some((event) => event.raw.length > options.maxBytes)
      ) {
        source.destroy();
        return truncated(
          'too_large',
          new RouterError('upstream_error', {
            message: 'A model backend stream event exceeded the size limit.',
          }),
        );
      }
      for (const event of events) {
        const action = options.onEvent(event);
        if (typeof action !== 'string') {
          if ('upstreamError' in action) {
            source.destroy();
            return truncated(
              'upstream_error',
              new RouterError('upstream_error', {
                message: 'The model backend reported an error mid-stream.',
                cause: new Error(action.upstreamError.slice(0, 500)),
              }),
            );
          }
          return await endAfterMarker(chunks, options); // Anything after the end marker is ignored.
        }
        if (action !== '' && !(await write(destination, action, signal))) {
          source.destroy();
          return { kind: 'client_closed' };
        }
      }
    }
  } catch (error: unknown) {
    source.destroy(); // Already done when the body failed; not when onEvent or a write threw.
    return outcomeOfError(upstreamBodyError(error, signal));
  }
  if (signal.aborted) return outcomeOfError(signal.reason);
  // The body ended right after an end marker's line, without the blank line that dispatches it (some
  // servers and proxies do; the OpenAI SDKs end such a stream cleanly): the stream is complete. Only the
  // marker is taken from that text: anything else may be cut mid-line and is never written.
  const last = parser.finish();
  if (last !== undefined && isEnd(options.onEvent(last))) return { kind: 'completed' };
  return truncated(
    'upstream_closed',
    new RouterError('upstream_error', { message: 'The model backend stream ended early.' }),
  );
}

/**
 * The stream is complete (the end marker came): reads the body to its end, ignoring it, for at most
 * {@link END_MARKER_GRACE_MS}, then destroys it if it is still open. `completed` — whatever the body did
 * meanwhile, and even when the deadline passed — unless the client left before its clean end was written.
 */
async function endAfterMarker(
  chunks: AsyncIterator<Buffer>,
  options: SseRelayOptions,
): Promise<SseRelayOutcome> {
  const { source, signal, timers } = options;
  let graceTimer: TimerHandle | undefined;
  const graceOver = new Promise<'held_open'>((resolve) => {
    graceTimer = timers.setTimeout(() => resolve('held_open'), END_MARKER_GRACE_MS);
  });
  const ending = await Promise.race([readToEnd(chunks), graceOver]);
  if (graceTimer !== undefined) timers.clearTimeout(graceTimer);
  // Ends the pending read too (readToEnd catches its rejection).
  if (ending === 'held_open') source.destroy();
  if (signal.aborted && signal.reason instanceof ClientClosedError) return { kind: 'client_closed' };
  return { kind: 'completed' };
}

/** Reads and drops the rest of a body; resolves when it ended or failed (either way it is over). */
async function readToEnd(chunks: AsyncIterator<Buffer>): Promise<'over'> {
  try {
    let next: IteratorResult<Buffer>;
    do {
      next = await chunks.next();
    } while (next.done !== true);
  } catch {
    // A body that breaks after the end marker lost nothing; undici has closed that connection.
  }
  return 'over';
}

function isEnd(action: SseEventAction): boolean {
  return typeof action !== 'string' && 'end' in action;
}

function truncated(reason: string, error: RouterError): SseRelayOutcome {
  return { kind: 'truncated', reason, error };
}

function outcomeOfError(error: unknown): SseRelayOutcome {
  if (error instanceof ClientClosedError) return { kind: 'client_closed' };
  if (error instanceof RouterError) {
    return truncated(error.code === 'upstream_timeout' ? 'timeout' : 'upstream_error', error);
  }
  return truncated('upstream_error', new RouterError('upstream_error', { cause: error }));
}

/**
 * Writes and, when the socket's buffer is full, waits for it to drain. Resolves false when the client is
 * gone (destination closed or destroyed, or the request signal aborted by a client close).
 */
export async function write(destination: Writable, text: string, signal: CancelSignal): Promise<boolean> {
  if (destination.destroyed || destination.writableEnded) return false;
  if (destination.write(text)) return true;
  if (signal.aborted) return !(signal.reason instanceof ClientClosedError);
  return new Promise<boolean>((resolve) => {
    const settle = (value: boolean): void => {
      destination.off('drain', onDrain);
      destination.off('close', onClose);
      signal.removeEventListener('abort', onAbort);
      resolve(value);
    };
    const onDrain = (): void => settle(true);
    const onClose = (): void => settle(false);
    // A deadline abort while waiting still lets the caller try to write the error event.
    const onAbort = (): void => settle(!(signal.reason instanceof ClientClosedError));
    destination.on('drain', onDrain);
    destination.on('close', onClose);
    signal.addEventListener('abort', onAbort);
  });
}
