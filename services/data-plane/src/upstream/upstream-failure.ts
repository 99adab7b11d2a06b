import { RouterError } from '@api-router/errors';
import { type CancelSignal } from '../cancel-signal.js';

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

/** Errors of establishing a connection: the request was never written. */
const CONNECT_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
]);

/** Maps an error undici reports before the response headers (request() or a dispatch) to a failure kind. */
export function classifyUpstreamError(error: unknown, signal: CancelSignal): UpstreamFailure {
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

/**
 * The error a request fails with when its last attempt got no response: the signal's reason when it
 * aborted (deadline, client gone), 504 upstream_timeout for a connect or first-byte timeout, 502
 * upstream_error otherwise.
 */
export function upstreamFailureError(failure: UpstreamFailure, signal: CancelSignal): unknown {
  switch (failure.kind) {
    case 'aborted':
      return signal.reason;
    case 'connect_timeout':
      return new RouterError('upstream_timeout', {
        message: 'Could not connect to a model backend in time.',
        cause: failure.cause,
      });
    case 'first_byte_timeout':
      return new RouterError('upstream_timeout', {
        message: 'The model backend did not start answering in time.',
        cause: failure.cause,
      });
    case 'connect_failed':
      return new RouterError('upstream_error', {
        message: 'Could not connect to a model backend.',
        cause: failure.cause,
      });
    case 'network':
      return new RouterError('upstream_error', {
        message: 'The connection to the model backend failed.',
        cause: failure.cause,
      });
  }
}
