import { hash, randomBytes, randomInt } from 'node:crypto';

/** Public part of a key, safe for logs and audit; the same rule as `API_KEY_PUBLIC_ID_PATTERN` in policy. */
export const API_KEY_PUBLIC_ID_PATTERN = /^rk_[a-z0-9]{4,32}$/;

/** 32 random bytes, base64url without padding. */
const SECRET_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const SECRET_BYTES = 32;
const GENERATED_ID_LENGTH = 12;
const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** Longest well-formed key: "rk_" + 32 + "." + 43. Longer input is refused before any regex runs. */
export const MAX_API_KEY_LENGTH = 79;

export interface GeneratedApiKey {
  readonly publicId: string;
  /** The whole key, `<publicId>.<secret>`: shown to its owner once, never stored. */
  readonly key: string;
  /** Lower-case hex SHA-256 of the whole key string: what policies.yaml stores (`secretSha256`). */
  readonly secretSha256Hex: string;
}

/**
 * A new API key with a fresh 32-byte secret. `publicId` defaults to "rk_" + 12 random lower-case
 * alphanumerics; a given one must match {@link API_KEY_PUBLIC_ID_PATTERN} (RangeError otherwise).
 */
export function generateApiKey(publicId?: string): GeneratedApiKey {
  const id = publicId ?? generatePublicId();
  if (!API_KEY_PUBLIC_ID_PATTERN.test(id)) {
    throw new RangeError(`publicId must match ${String(API_KEY_PUBLIC_ID_PATTERN)}`);
  }
  const key = `${id}.${randomBytes(SECRET_BYTES).toString('base64url')}`;
  return { publicId: id, key, secretSha256Hex: hashApiKey(key).toString('hex') };
}

/**
 * The public id of a well-formed key string, or undefined for anything else (wrong shape, too long,
 * not a string). Never throws: it sees untrusted Authorization headers.
 */
export function parseApiKey(text: unknown): string | undefined {
  if (typeof text !== 'string' || text.length > MAX_API_KEY_LENGTH) {
    return undefined;
  }
  const dot = text.indexOf('.');
  if (dot === -1) {
    return undefined;
  }
  const publicId = text.slice(0, dot);
  const secret = text.slice(dot + 1);
  return API_KEY_PUBLIC_ID_PATTERN.test(publicId) && SECRET_PATTERN.test(secret) ? publicId : undefined;
}

/** SHA-256 (32 bytes) of the UTF-8 key string, the form in which keys are stored and shipped. */
export function hashApiKey(key: string): Buffer {
  // One-shot crypto.hash: no Hash object per call (it runs once per authenticated request).
  return hash('sha256', key, 'buffer');
}

/**
 * True when the presented key string hashes to `storedSha256` (32 bytes). Digests are compared in
 * constant time; a stored value of the wrong length never matches.
 *
 * The digest comes back as a 'binary' (latin1) string, one char per byte, and is compared byte by byte
 * with an accumulated XOR, no early exit — what `timingSafeEqual` does, without the Buffer it needs: every
 * digest Buffer is an ArrayBuffer of its own that the next young-generation GC has to sweep, one per
 * request, a quarter of those the data plane made per request (docs/performance-log.md, "Figures, ninth VM").
 */
export function verifyApiKey(presented: string, storedSha256: Uint8Array): boolean {
  const presentedSha256 = hash('sha256', presented, 'binary');
  if (storedSha256.length !== presentedSha256.length) return false;
  let difference = 0;
  for (let index = 0; index < presentedSha256.length; index += 1) {
    difference |= presentedSha256.charCodeAt(index) ^ storedSha256[index]!;
  }
  return difference === 0;
}

function generatePublicId(): string {
  let suffix = '';
  for (let index = 0; index < GENERATED_ID_LENGTH; index += 1) {
    suffix += ID_ALPHABET[randomInt(ID_ALPHABET.length)] ?? '';
  }
  return `rk_${suffix}`;
}
