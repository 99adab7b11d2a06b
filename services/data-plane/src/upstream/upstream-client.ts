import type { IncomingHttpHeaders } from 'node:http';
import type { Backend } from '@api-router/contracts';
import type { Dispatcher } from 'undici';
import { readWholeResponse, type MaxBodyBytes } from './read-whole-response.js';
import { classifyUpstreamError, type UpstreamFailure } from './upstream-failure.js';
import type { UpstreamPools } from './upstream-pools.js';
import { type CancelSignal, toAbortSignal } from '../cancel-signal.js';

export type { UpstreamFailure } from './upstream-failure.js';

export interface UpstreamRequest {
  readonly backend: Backend;
  /** Path under the backend's base URL, e.g. "/chat/completions" for base "http://host:8000/v1". */
  readonly path: string;
  readonly method: 'GET' | 'POST';
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string | undefined;
  /** Aborts the call (client gone, request deadline); the failure is then `aborted`. */
  readonly signal: CancelSignal;
  /** Time allowed until the response headers arrive: min(backend first-byte timeout, time left), in ms. */
  readonly headersTimeoutMs: number;
  /**
   * Longest pause between two body chunks, in ms; undefined for none, when the request's signal already
   * aborts at its deadline (a pause timer as long as the time left could only fire after it).
   */
  readonly bodyTimeoutMs?: number | undefined;
}

/** Body of a streamed upstream response: bytes as they arrive. Destroy it to abandon the response. */
export interface UpstreamBody extends AsyncIterable<Buffer> {
  destroy(error?: Error): unknown;
}

/** A response whose body streams (not read yet). */
export interface UpstreamResponse {
  readonly statusCode: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: UpstreamBody;
}

/**
 * A body read whole: its bytes, or why it could not be read — 502 upstream_error over the size limit
 * (`details.max_bytes`) or for a broken connection, 504 upstream_timeout for a stall, or the request
 * signal's reason when it aborted.
 */
export type UpstreamWholeBody =
  { readonly ok: true; readonly bytes: Buffer } | { readonly ok: false; readonly error: unknown };

/** A response read whole. The status and headers arrived even when the body did not. */
export interface UpstreamWholeResponse {
  readonly statusCode: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: UpstreamWholeBody;
}

export type UpstreamOutcome<Response = UpstreamResponse> =
  | { readonly ok: true; readonly response: Response }
  | { readonly ok: false; readonly failure: UpstreamFailure };

/**
 * The one way to a backend (failover, health and other providers plug in here). Both calls resolve to the
 * response (any status) or to a classified failure when no response came; never reject for a network
 * problem. Choose by how the body is consumed: relayed as it arrives, or read whole.
 */
export interface UpstreamClient {
  /** Resolves at the response headers; the body streams, with backpressure (SSE). */
  stream(request: UpstreamRequest): Promise<UpstreamOutcome>;
  /**
   * Resolves once the body is complete (JSON completions, error bodies), at most `maxBodyBytes(status)`
   * bytes; cheaper per request than a stream.
   */
  whole(
    request: UpstreamRequest,
    maxBodyBytes: MaxBodyBytes,
  ): Promise<UpstreamOutcome<UpstreamWholeResponse>>;
}

function firstByteTimeoutMs(request: UpstreamRequest): number {
  return Math.max(1, Math.ceil(request.headersTimeoutMs));
}

/** Sends requests through the backend's pool (UpstreamPools), stream or whole. */
export function createUpstreamClient(pools: UpstreamPools): UpstreamClient {
  const basePaths = new WeakMap<Backend, string>();
  const basePathOf = (backend: Backend): string => {
    let path = basePaths.get(backend);
    if (path === undefined) {
      path = new URL(backend.baseUrl).pathname.replace(/\/$/, '');
      basePaths.set(backend, path);
    }
    return path;
  };
  const dispatchOptions = (request: UpstreamRequest, headersTimeout: number): Dispatcher.DispatchOptions => ({
    path: basePathOf(request.backend) + request.path,
    method: request.method,
    headers: request.headers,
    body: request.body,
    // No body timer unless asked for, whole milliseconds: undici keeps a socket's timer when the next phase's
    // delay is the same and makes a new one otherwise; its cleared timers stay in its timer list for up to
    // half a second: each timer made per request is ~500 more objects alive at 2 000 requests/s.
    headersTimeout,
    bodyTimeout: request.bodyTimeoutMs === undefined ? 0 : Math.max(1, Math.ceil(request.bodyTimeoutMs)),
  });
  return {
    async stream(request) {
      try {
        const data = await pools.poolFor(request.backend).request({
          ...dispatchOptions(request, firstByteTimeoutMs(request)),
          signal: toAbortSignal(request.signal),
        });
        return {
          ok: true,
          response: { statusCode: data.statusCode, headers: data.headers, body: data.body },
        };
      } catch (error: unknown) {
        return { ok: false, failure: classifyUpstreamError(error, request.signal) };
      }
    },
    whole(request, maxBodyBytes) {
      try {
        const pool = pools.poolFor(request.backend);
        // The whole read keeps the first-byte timer itself (see readWholeResponse): none in undici.
        const options = dispatchOptions(request, 0);
        return readWholeResponse(pool, options, request.signal, maxBodyBytes, firstByteTimeoutMs(request));
      } catch (error: unknown) {
        // The pools are closed (shutdown): no request was sent.
        return Promise.resolve({ ok: false, failure: classifyUpstreamError(error, request.signal) });
      }
    },
  };
}
