import { RouterError } from '@api-router/errors';
import type { NonceStore } from './nonce-store.js';

export interface MemoryNonceStoreOptions {
  /** Time source; `now()` in milliseconds since the epoch. */
  readonly clock: { now(): number };
  /**
   * Most unexpired nonces held at once. When full, a claim rejects with a `dependency_unavailable`
   * RouterError instead of evicting a live nonce (eviction would let that nonce be replayed). One key may
   * hold no more nonces than are left free, so it alone can take at most half: over its share, its claims
   * reject with a `rate_limited` RouterError while other keys' claims still succeed.
   */
  readonly maxEntries: number;
}

/**
 * A process-local {@link NonceStore}: the embedded default for a single data-plane replica. Replicas do not
 * share it, so with several replicas use the Redis store. Expired nonces are dropped lazily: the oldest
 * insertions on every claim, everything when the store is full.
 *
 * Nonces are claimed before any rate limit, so without a per-key share one partner sending more signed
 * requests than the store holds would lock every tenant out (503) for up to a nonce's lifetime.
 */
/** `details.limit` of the 429 a key over its share of the store gets. */
const NONCE_SHARE_LIMIT = 'nonce_store_share';

export function createMemoryNonceStore(options: MemoryNonceStoreOptions): NonceStore {
  if (!Number.isSafeInteger(options.maxEntries) || options.maxEntries < 1) {
    throw new RangeError(`maxEntries must be a positive integer, got ${String(options.maxEntries)}`);
  }
  // Insertion-ordered: with one TTL for every nonce (the usual case) the front is always the oldest expiry.
  const expiresAtMsByKey = new Map<string, number>();
  // Unexpired nonces (or expired, not yet dropped) held per keyId; a key with none has no entry.
  const heldByKeyId = new Map<string, number>();

  function drop(key: string): void {
    expiresAtMsByKey.delete(key);
    const keyId = key.slice(0, key.indexOf('\u0000'));
    const held = heldByKeyId.get(keyId)! - 1;
    if (held === 0) heldByKeyId.delete(keyId);
    else heldByKeyId.set(keyId, held);
  }

  function dropExpiredFront(nowMs: number): void {
    for (const [key, expiresAtMs] of expiresAtMsByKey) {
      if (expiresAtMs > nowMs) return;
      drop(key);
    }
  }

  function dropAllExpired(nowMs: number): void {
    for (const [key, expiresAtMs] of expiresAtMsByKey) {
      if (expiresAtMs <= nowMs) drop(key);
    }
  }

  /**
   * The key's refusal when it holds as many nonces as are left free. Not a sweep for expired entries (one
   * per refused claim would cost a walk of the whole store): with one TTL for every nonce, the front drop
   * leaves none; with mixed TTLs the few behind a longer-lived one only make this refusal come early.
   */
  function overShare(keyId: string, nowMs: number): RouterError | undefined {
    const held = heldByKeyId.get(keyId) ?? 0;
    if (held < options.maxEntries - expiresAtMsByKey.size) return undefined;
    // Room comes back as nonces expire: the front one is the first to (exactly so with one TTL).
    const nextExpiryMs = expiresAtMsByKey.values().next().value ?? nowMs;
    return new RouterError('rate_limited', {
      message: 'This key sends more signed requests than replay protection can hold for it.',
      retryAfterSeconds: Math.max(1, Math.ceil((nextExpiryMs - nowMs) / 1000)),
      // The key's own public id (the client sent it): the data plane names it in the 429's audit event.
      details: { limit: NONCE_SHARE_LIMIT, key_id: keyId, held_nonces: held },
    });
  }

  return {
    claim(keyId, nonce, ttlSeconds) {
      if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1) {
        return Promise.reject(
          new RangeError(`ttlSeconds must be a positive integer, got ${String(ttlSeconds)}`),
        );
      }
      // NUL cannot occur in a structured-field string, so the joined key is unambiguous and its keyId part
      // (counted per key) is what precedes the first NUL.
      if (keyId.includes('\u0000')) return Promise.reject(new RangeError('keyId must not contain NUL'));
      const nowMs = options.clock.now();
      dropExpiredFront(nowMs);
      const key = `${keyId}\u0000${nonce}`;
      const expiresAtMs = expiresAtMsByKey.get(key);
      if (expiresAtMs !== undefined && expiresAtMs > nowMs) {
        return Promise.resolve(false);
      }
      if (expiresAtMs !== undefined) drop(key);
      if (expiresAtMsByKey.size >= options.maxEntries) {
        dropAllExpired(nowMs);
        if (expiresAtMsByKey.size >= options.maxEntries) {
          return Promise.reject(
            new RouterError('dependency_unavailable', {
              message: 'Replay protection is at capacity.',
              details: { maxEntries: options.maxEntries },
            }),
          );
        }
      }
      const refusal = overShare(keyId, nowMs);
      if (refusal !== undefined) return Promise.reject(refusal);
      expiresAtMsByKey.set(key, nowMs + ttlSeconds * 1000);
      heldByKeyId.set(keyId, (heldByKeyId.get(keyId) ?? 0) + 1);
      return Promise.resolve(true);
    },
  };
}
