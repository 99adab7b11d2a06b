import type { Writable } from 'node:stream';
import { RouterError } from '@api-router/errors';
import { upstreamBodyError } from '../upstream/read-upstream-body.js';
import type { UpstreamBody } from '../upstream/upstream-client.js';
import { ClientClosedError } from './request-signal.js';
import { SseEventParser, type SseEvent } from './sse-event-parser.js';
import { type CancelSignal } from '../cancel-signal.js';

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
  /** Most upstream bytes relayed; a larger stream is cut (truncated, reason too_large). */
  readonly maxBytes: number;
  readonly onEvent: (event: SseEvent) => SseEventAction;
}

/**
 * How a relay ended. `completed`: the upstream sent its clean end marker and closed. `truncated`: it did not
 * (closed early, broke, reported an error, stalled, exceeded the size cap, or the deadline passed) — the
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
  let receivedBytes = 0;
  let ended = false;
  try {
    for await (const chunk of source) {
      receivedBytes += chunk.length;
      if (receivedBytes > options.maxBytes) {
        source.destroy();
        return truncated(
          'too_large',
          new RouterError('upstream_error', { message: 'The model backend stream exceeded the size limit.' }),
        );
      }
      for (const event of parser.push(chunk)) {
        if (ended) continue; // Anything after the end marker is ignored.
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
          ended = true;
        } else if (action !== '' && !(await write(destination, action, signal))) {
          source.destroy();
          return { kind: 'client_closed' };
        }
      }
    }
  } catch (error: unknown) {
    return outcomeOfError(upstreamBodyError(error, signal));
  }
  if (signal.aborted) return outcomeOfError(signal.reason);
  if (ended) return { kind: 'completed' };
  return truncated(
    'upstream_closed',
    new RouterError('upstream_error', { message: 'The model backend stream ended early.' }),
  );
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
