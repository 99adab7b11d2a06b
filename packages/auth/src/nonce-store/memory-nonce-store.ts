import { RouterError } from '@api-router/errors';
import type { NonceStore } from './nonce-store.js';

export interface MemoryNonceStoreOptions {
  /** Time source; `now()` in milliseconds since the epoch. */
  readonly clock: { now(): number };
  /**
   * Most unexpired nonces held at once. When full, a claim rejects with a `dependency_unavailable`
   * RouterError instead of evicting a live nonce (eviction would let that nonce be replayed).
   */
  readonly maxEntries: number;
}

/**
 * A process-local {@link NonceStore}: the embedded default for a single data-plane replica. Replicas do not
 * share it, so with several replicas use the Redis store. Expired nonces are dropped lazily: the oldest
 * insertions on every claim, everything when the store is full.
 */
export function createMemoryNonceStore(options: MemoryNonceStoreOptions): NonceStore {
  if (!Number.isSafeInteger(options.maxEntries) || options.maxEntries < 1) {
    throw new RangeError(`maxEntries must be a positive integer, got ${String(options.maxEntries)}`);
  }
  // Insertion-ordered: with one TTL for every nonce (the usual case) the front is always the oldest expiry.
  const expiresAtMsByKey = new Map<string, number>();

  function dropExpiredFront(nowMs: number): void {
    for (const [key, expiresAtMs] of expiresAtMsByKey) {
      if (expiresAtMs > nowMs) return;
      expiresAtMsByKey.delete(key);
    }
  }

  function dropAllExpired(nowMs: number): void {
    for (const [key, expiresAtMs] of expiresAtMsByKey) {
      if (expiresAtMs <= nowMs) expiresAtMsByKey.delete(key);
    }
  }

  return {
    claim(keyId, nonce, ttlSeconds) {
      if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1) {
        return Promise.reject(
          new RangeError(`ttlSeconds must be a positive integer, got ${String(ttlSeconds)}`),
        );
      }
      const nowMs = options.clock.now();
      dropExpiredFront(nowMs);
      // NUL cannot occur in a structured-field string, so the joined key is unambiguous.
      const key = `${keyId}\u0000${nonce}`;
      const expiresAtMs = expiresAtMsByKey.get(key);
      if (expiresAtMs !== undefined && expiresAtMs > nowMs) {
        return Promise.resolve(false);
      }
      expiresAtMsByKey.delete(key);
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
      expiresAtMsByKey.set(key, nowMs + ttlSeconds * 1000);
      return Promise.resolve(true);
    },
  };
}
