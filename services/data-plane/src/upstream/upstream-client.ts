import type { IncomingHttpHeaders } from 'node:http';
import type { Backend } from '@api-router/contracts';
import type { UpstreamPools } from './upstream-pools.js';

export interface UpstreamRequest {
  readonly backend: Backend;
  /** Path under the backend's base URL, e.g. "/chat/completions" for base "http://host:8000/v1". */
  readonly path: string;
  readonly method: 'GET' | 'POST';
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string | undefined;
  /** Aborts the call (client gone, request deadline); the failure is then `aborted`. */
  readonly signal: AbortSignal;
  /** Time allowed until the response headers arrive: min(backend first-byte timeout, time left), in ms. */
  readonly headersTimeoutMs: number;
  /** Longest pause between two body chunks, in ms; the request deadline bounds the total anyway. */
  readonly bodyTimeoutMs: number;
}

/** Body of an upstream response: bytes as they arrive. Destroy it to abandon the response. */
export interface UpstreamBody extends AsyncIterable<Buffer> {
  destroy(error?: Error): unknown;
}

export interface UpstreamResponse {
  readonly statusCode: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: UpstreamBody;
}

/**
 * Why an upstream call produced no response. `retrySafe` means the request certainly never reached the
 * backend (no connection was made), so another backend may be tried without risking a double execution.
 */
export interface UpstreamFailure {
  readonly kind: 'connect_failed' | 'connect_timeout' | 'first_byte_timeout' | 'network' | 'aborted';
  readonly retrySafe: boolean;
  /** The underlying error; internal (logged, never sent to the client). */
  readonly cause: unknown;
}

export type UpstreamOutcome =
  | { readonly ok: true; readonly response: UpstreamResponse }
  | { readonly ok: false; readonly failure: UpstreamFailure };

export type UpstreamClient = (request: UpstreamRequest) => Promise<UpstreamOutcome>;

/** Errors of establishing a connection: the request was never written. */
const CONNECT_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
]);

/**
 * Sends requests through the backend's pool. Resolves to the response (any status; the body is not read)
 * or to a classified failure; never rejects for a network problem.
 */
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
  return async (request) => {
    try {
      const data = await pools.poolFor(request.backend).request({
        path: basePathOf(request.backend) + request.path,
        method: request.method,
        headers: request.headers,
        body: request.body,
        signal: request.signal,
        headersTimeout: Math.max(1, request.headersTimeoutMs),
        bodyTimeout: Math.max(1, request.bodyTimeoutMs),
      });
      return { ok: true, response: { statusCode: data.statusCode, headers: data.headers, body: data.body } };
    } catch (error: unknown) {
      return { ok: false, failure: classifyUpstreamError(error, request.signal) };
    }
  };
}

/** Maps an error of undici's request() to a failure kind. */
export function classifyUpstreamError(error: unknown, signal: AbortSignal): UpstreamFailure {
  if (signal.aborted) return { kind: 'aborted', retrySafe: false, cause: error };
  const code = (error as { code?: unknown } | undefined)?.code;
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return { kind: 'connect_timeout', retrySafe: true, cause: error };
  if (typeof code === 'string' && CONNECT_ERROR_CODES.has(code)) {
    return { kind: 'connect_failed', retrySafe: true, cause: error };
  }
  if (code === 'UND_ERR_HEADERS_TIMEOUT')
    return { kind: 'first_byte_timeout', retrySafe: false, cause: error };
  return { kind: 'network', retrySafe: false, cause: error };
}
