/**
 * Why a signed request was refused. Stable: logs, metrics labels and audit events use these strings.
 * - missing_signature: no Signature / Signature-Input field, or none with the expected label
 * - malformed: fields that do not parse, unsupported component parameters, more than 32 covered
 *   components, missing or mistyped `created` / `nonce` / `keyid`
 * - unknown_key: `keyid` resolves to no secret
 * - missing_component: a required component is not covered, or a covered one is absent from the request
 * - bad_digest: Content-Digest does not parse, lacks sha-256, or does not match the body
 * - bad_signature: the HMAC matches none of the key's secrets
 * - expired: `created` is older than the window, or `expires` has passed
 * - future: `created` is further ahead than the window
 * - replayed_nonce: the nonce was already accepted for this key
 * - alg_unsupported: an `alg` parameter other than `hmac-sha256`
 */
export const VERIFY_FAILURE_REASONS = [
  'missing_signature',
  'malformed',
  'unknown_key',
  'missing_component',
  'bad_digest',
  'bad_signature',
  'expired',
  'future',
  'replayed_nonce',
  'alg_unsupported',
] as const;

export type VerifyFailureReason = (typeof VERIFY_FAILURE_REASONS)[number];
