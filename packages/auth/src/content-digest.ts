import { createHash, timingSafeEqual } from 'node:crypto';
import { type Dictionary, isInnerList, parseDictionary, serializeDictionary } from 'structured-headers';

/** Digest algorithms from the RFC 9530 registry that this implementation computes and checks. */
export type ContentDigestAlgorithm = 'sha-256' | 'sha-512';

const NODE_HASH: Readonly<Record<ContentDigestAlgorithm, string>> = {
  'sha-256': 'sha256',
  'sha-512': 'sha512',
};

/** Longer Content-Digest fields are refused before parsing. */
export const MAX_CONTENT_DIGEST_LENGTH = 1024;

/**
 * The Content-Digest field value (RFC 9530) for the exact body bytes, e.g. `sha-256=:X48E…=:`.
 * Default: sha-256 only.
 */
export function computeContentDigest(
  body: Uint8Array,
  algorithms: readonly ContentDigestAlgorithm[] = ['sha-256'],
): string {
  const entries: Dictionary = new Map();
  for (const algorithm of algorithms) {
    entries.set(algorithm, [digest(algorithm, body), new Map()]);
  }
  return serializeDictionary(entries);
}

/**
 * The digests in a Content-Digest field by algorithm. Unknown algorithms are skipped (RFC 9530 §2: a
 * recipient ignores what it does not support). Undefined when the field is not a dictionary of byte
 * sequences, is too long, or a known algorithm's digest has the wrong length. Never throws.
 */
export function parseContentDigest(fieldValue: string): Map<ContentDigestAlgorithm, Uint8Array> | undefined {
  if (fieldValue.length > MAX_CONTENT_DIGEST_LENGTH) {
    return undefined;
  }
  let dictionary: Dictionary;
  try {
    dictionary = parseDictionary(fieldValue);
  } catch {
    // A syntax error is the sender's malformed field: reported as undefined, not thrown.
    return undefined;
  }
  const digests = new Map<ContentDigestAlgorithm, Uint8Array>();
  for (const [algorithm, member] of dictionary) {
    if (isInnerList(member) || !(member[0] instanceof ArrayBuffer)) {
      return undefined;
    }
    if (algorithm === 'sha-256' || algorithm === 'sha-512') {
      const bytes = new Uint8Array(member[0]);
      if (bytes.length !== (algorithm === 'sha-256' ? 32 : 64)) {
        return undefined;
      }
      digests.set(algorithm, bytes);
    }
  }
  return digests;
}

/** Outcome of checking a Content-Digest field against a body. */
export type ContentDigestCheck = 'ok' | 'malformed' | 'missing_sha256' | 'mismatch';

/**
 * Checks a Content-Digest field against the exact body bytes. Our policy requires a sha-256 digest; every
 * supported digest present (sha-256, sha-512) must match.
 */
export function checkContentDigest(fieldValue: string, body: Uint8Array): ContentDigestCheck {
  const digests = parseContentDigest(fieldValue);
  if (digests === undefined) {
    return 'malformed';
  }
  if (!digests.has('sha-256')) {
    return 'missing_sha256';
  }
  for (const [algorithm, expected] of digests) {
    if (!timingSafeEqual(digest(algorithm, body), expected)) {
      return 'mismatch';
    }
  }
  return 'ok';
}

function digest(algorithm: ContentDigestAlgorithm, body: Uint8Array): Buffer {
  return createHash(NODE_HASH[algorithm]).update(body).digest();
}
