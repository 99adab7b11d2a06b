import type { IncomingHttpHeaders } from 'node:http';
import { errors, type Dispatcher } from 'undici';
import { upstreamBodyError, upstreamResponseTooLarge } from './read-upstream-body.js';
import type { UpstreamOutcome, UpstreamWholeBody, UpstreamWholeResponse } from './upstream-client.js';
import { classifyUpstreamError } from './upstream-failure.js';
import { type CancelSignal } from '../cancel-signal.js';

/** Most body bytes read for a response status; a longer body is abandoned. */
export type MaxBodyBytes = (statusCode: number) => number;

type Settle = (outcome: UpstreamOutcome<UpstreamWholeResponse>) => void;

/**
 * Sends one request through `pool.dispatch` and collects the response body into a Buffer, without the
 * Readable, async iterator and per-chunk promises of `request()`: for responses read whole (JSON
 * completions, error bodies), whose CPU per request matters. Resolves once the body is complete, or to a
 * failure (classified as for `request()`) when no response came; never rejects.
 *
 * Body problems keep the status: a body over `maxBodyBytes(statusCode)` (or declaring so in
 * content-length) is abandoned — the connection is closed so that the backend stops sending — and reported
 * as 502 upstream_error with `details.max_bytes`; a stall past the body timeout, a broken connection or an
 * abort are reported as {@link upstreamBodyError} makes them. `signal` (deadline, client gone) aborts the
 * call at any point; before the request is written it settles at once and the queued request is dropped
 * when the pool gets to it.
 *
 * `headersTimeoutMs` (the first-byte timeout) is kept here rather than by undici's `headersTimeout`, with
 * the same start (the request is being written on a connection) and the same failure
 * (`HeadersTimeoutError`, a first_byte_timeout): undici's timer for it is a FastTimer that its timer list
 * keeps for up to half a second after it is cleared, ~500 objects alive at every scavenge at 2 000
 * requests/s, where a Node timer cleared at the response headers is gone at once (docs/performance-log.md).
 * Pass `headersTimeout: 0` in `options` so that undici keeps none.
 */
export function readWholeResponse(
  pool: Pick<Dispatcher, 'dispatch'>,
  options: Dispatcher.DispatchOptions,
  signal: CancelSignal,
  maxBodyBytes: MaxBodyBytes,
  headersTimeoutMs: number,
): Promise<UpstreamOutcome<UpstreamWholeResponse>> {
  if (signal.aborted) {
    return Promise.resolve({ ok: false, failure: classifyUpstreamError(signal.reason, signal) });
  }
  return new Promise((resolve) => {
    const handler = new WholeResponseHandler(signal, maxBodyBytes, headersTimeoutMs, resolve);
    try {
      pool.dispatch(options, handler);
    } catch (error: unknown) {
      // Dispatchers report their own errors through the handler; this is for anything else (a closed pool).
      handler.onResponseError(undefined, error);
    }
  });
}

/** undici's (v7) dispatch handler interface; one instance per request. */
class WholeResponseHandler implements Dispatcher.DispatchHandler {
  readonly #signal: CancelSignal;
  readonly #maxBodyBytes: MaxBodyBytes;
  readonly #headersTimeoutMs: number;
  /** The first-byte timer, from the request's start on a connection to its final response headers. */
  #headersTimer: NodeJS.Timeout | undefined;
  #settle: Settle | undefined;
  #controller: Dispatcher.DispatchController | undefined;
  /** 0 until the final (non-1xx) response headers. */
  #statusCode = 0;
  #headers: IncomingHttpHeaders = {};
  #maxBytes = 0;
  #size = 0;
  readonly #chunks: Buffer[] = [];
  readonly #onAbort = (): void => {
    if (this.#controller === undefined) {
      // Not written yet (waiting for a connection): nothing to cancel on the wire yet; onRequestStart will.
      this.onResponseError(undefined, this.#signal.reason);
    } else {
      this.#controller.abort(abortError(this.#signal.reason)); // reports through onResponseError
    }
  };

  readonly #onHeadersTimeout = (): void => {
    this.#headersTimer = undefined;
    // As undici's own headers timeout: the connection is closed, the failure is a first_byte_timeout.
    this.#controller?.abort(new errors.HeadersTimeoutError());
  };

  constructor(signal: CancelSignal, maxBodyBytes: MaxBodyBytes, headersTimeoutMs: number, settle: Settle) {
    this.#signal = signal;
    this.#maxBodyBytes = maxBodyBytes;
    this.#headersTimeoutMs = headersTimeoutMs;
    this.#settle = settle;
    signal.addEventListener('abort', this.#onAbort);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    // Settled before it was written: only an abort does that. Never send it.
    if (this.#settle === undefined) controller.abort(abortError(this.#signal.reason));
    else if (this.#headersTimeoutMs > 0) {
      this.#headersTimer = setTimeout(this.#onHeadersTimeout, Math.ceil(this.#headersTimeoutMs)).unref();
    }
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ): void {
    if (statusCode < 200) {
      // 1xx informational: the final response follows; as undici does, its wait starts again.
      this.#headersTimer?.refresh();
      return;
    }
    this.#clearHeadersTimer();
    this.#statusCode = statusCode;
    this.#headers = headers;
    this.#maxBytes = this.#maxBodyBytes(statusCode);
    const declared = headers['content-length'];
    if (typeof declared === 'string' && Number(declared) > this.#maxBytes) this.#tooLarge(controller);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#settle === undefined) return; // abandoned: the rest is not wanted
    this.#size += chunk.length;
    if (this.#size > this.#maxBytes) this.#tooLarge(controller);
    else this.#chunks.push(chunk);
  }

  onResponseEnd(): void {
    const chunks = this.#chunks;
    const bytes =
      chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks, this.#size);
    this.#settleBody({ ok: true, bytes });
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, error: unknown): void {
    if (this.#statusCode === 0)
      this.#finish({ ok: false, failure: classifyUpstreamError(error, this.#signal) });
    else this.#settleBody({ ok: false, error: upstreamBodyError(error, this.#signal) });
  }

  #tooLarge(controller: Dispatcher.DispatchController): void {
    const error = upstreamResponseTooLarge(this.#maxBytes);
    this.#settleBody({ ok: false, error });
    controller.abort(error); // closes the connection; the onResponseError it causes finds us settled
  }

  #settleBody(body: UpstreamWholeBody): void {
    this.#finish({ ok: true, response: { statusCode: this.#statusCode, headers: this.#headers, body } });
  }

  #finish(outcome: UpstreamOutcome<UpstreamWholeResponse>): void {
    const settle = this.#settle;
    if (settle === undefined) return; // settled already (abandoned, aborted): later callbacks are echoes
    this.#settle = undefined;
    this.#clearHeadersTimer();
    this.#signal.removeEventListener('abort', this.#onAbort);
    settle(outcome);
  }

  #clearHeadersTimer(): void {
    if (this.#headersTimer === undefined) return;
    clearTimeout(this.#headersTimer);
    this.#headersTimer = undefined;
  }
}

/** controller.abort takes an Error; a signal's reason is one in the router (RouterError, ClientClosedError). */
function abortError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error('upstream call aborted', { cause: reason });
}
