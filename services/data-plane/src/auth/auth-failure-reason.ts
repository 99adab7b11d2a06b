import { VERIFY_FAILURE_REASONS, type VerifyFailureReason } from '@api-router/auth';

/**
 * Why a request was not authenticated. Logged and counted (router_auth_failures_total{reason}); the client
 * always gets the same 401 body whatever the reason, so that probing cannot tell a wrong secret from an
 * unknown, disabled or expired key.
 */
export type AuthFailureReason =
  /** Neither an Authorization header nor a signature. */
  | 'missing_credentials'
  /** Both a bearer key and a signature: which one to trust is ambiguous, so neither is. */
  | 'ambiguous_credentials'
  /** Authorization present but not `Bearer <publicId>.<secret>`. */
  | 'malformed_key'
  /** No key with that public id in the active policy. */
  | 'unknown_key'
  /** The public id exists but the secret does not hash to the stored sha256. */
  | 'wrong_secret'
  | 'key_disabled'
  | 'key_expired'
  | 'tenant_disabled'
  /** RFC 9421 verification failures, prefixed (see @api-router/auth's README for each reason). */
  | `signature_${VerifyFailureReason}`;

export const AUTH_FAILURE_REASONS: readonly AuthFailureReason[] = [
  'missing_credentials',
  'ambiguous_credentials',
  'malformed_key',
  'unknown_key',
  'wrong_secret',
  'key_disabled',
  'key_expired',
  'tenant_disabled',
  ...VERIFY_FAILURE_REASONS.map((reason) => `signature_${reason}` as const),
];
