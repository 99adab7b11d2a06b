import { createHmac, timingSafeEqual } from 'node:crypto';

/** HMAC-SHA256 (RFC 9421 §3.3.3) of the signature base's ASCII bytes; 32 bytes. */
export function computeHmacSha256(secret: Uint8Array, signatureBase: string): Buffer {
  return createHmac('sha256', secret).update(signatureBase, 'ascii').digest();
}

/**
 * True when `signature` is the HMAC of `signatureBase` under any of `secrets` (rotation keeps two active).
 * Every secret is tried, and each comparison is constant-time, so timing says nothing about which secret
 * matched or how many bytes did.
 */
export function matchesHmacSha256(
  secrets: readonly Uint8Array[],
  signatureBase: string,
  signature: Uint8Array,
): boolean {
  let matched = false;
  for (const secret of secrets) {
    const expected = computeHmacSha256(secret, signatureBase);
    // timingSafeEqual throws on a length mismatch; a wrong length is a wrong signature, and the length of
    // an HMAC-SHA256 is public anyway.
    if (signature.length === expected.length && timingSafeEqual(signature, expected)) {
      matched = true;
    }
  }
  return matched;
}
