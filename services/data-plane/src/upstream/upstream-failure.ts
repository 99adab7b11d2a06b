import { RouterError } from '@api-router/errors';
import { type CancelSignal } from '../cancel-signal.js';
import { isConnectError } from './connect-phase-errors.js';

/**
 * Why an upstream call produced no response. `retrySafe` means the request certainly never reached the
 * backend (no connection was made), so another backend may be tried without risking a double execution.
 */
export interface UpstreamFailure {
  readonly kind:
    'connect_failed' | 'connect_timeout' | 'tls_failed' | 'first_byte_timeout' | 'network' | 'aborted';
  readonly retrySafe: boolean;
  /** The underlying error; internal (logged, never sent to the client). */
  readonly cause: unknown;
}

/**
 * Certificate verification failures, as Node names OpenSSL's X509_V_ERR_* codes (crypto_common.cc); Node's
 * own hostname check is ERR_TLS_CERT_ALTNAME_INVALID (an ERR_TLS_ code). They only name the failure kind:
 * whether a retry is safe is decided by isConnectError.
 */
const CERTIFICATE_ERROR_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CRL_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CRL_NOT_YET_VALID',
  'CRL_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'ERROR_IN_CRL_LAST_UPDATE_FIELD',
  'ERROR_IN_CRL_NEXT_UPDATE_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
]);

/**
 * The kind of a connection that could not be made: a TLS handshake that failed (certificate refused,
 * `https` against a plain-HTTP port: ERR_SSL_WRONG_VERSION_NUMBER, a TLS alert, EPROTO), a connect timeout,
 * or any other connect error (refused, DNS, unreachable, reset during the handshake).
 */
function connectFailureKind(code: unknown): UpstreamFailure['kind'] {
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return 'connect_timeout';
  if (typeof code !== 'string') return 'connect_failed';
  const tls =
    CERTIFICATE_ERROR_CODES.has(code) ||
    code.startsWith('ERR_SSL_') ||
    code.startsWith('ERR_TLS_') ||
    code === 'EPROTO';
  return tls ? 'tls_failed' : 'connect_failed';
}

/**
 * Maps an error undici reports before the response headers (request() or a dispatch) to a failure kind.
 * Retry-safe exactly when the connector reported it (isConnectError): the request was never written.
 * Anything after that (a reset, a closed socket, a TLS error on an established connection) may have
 * reached the backend.
 */
export function classifyUpstreamError(error: unknown, signal: CancelSignal): UpstreamFailure {
  if (signal.aborted) return { kind: 'aborted', retrySafe: false, cause: error };
  const code = (error as { code?: unknown } | undefined)?.code;
  if (isConnectError(error)) return { kind: connectFailureKind(code), retrySafe: true, cause: error };
  if (code === 'UND_ERR_HEADERS_TIMEOUT')
    return { kind: 'first_byte_timeout', retrySafe: false, cause: error };
  return { kind: 'network', retrySafe: false, cause: error };
}

/**
 * The error a request fails with when its last attempt got no response: the signal's reason when it
 * aborted (deadline, client gone), 504 upstream_timeout for a connect or first-byte timeout, 502
 * upstream_error otherwise (a TLS handshake that failed included).
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
    case 'tls_failed':
      return new RouterError('upstream_error', {
        message: 'Could not establish a secure connection to a model backend.',
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
