import { RouterError } from '@api-router/errors';
import type { Redis } from 'ioredis';
import type { NonceStore } from './nonce-store.js';

export interface RedisNonceStoreOptions {
  /** A connected client owned by the caller (the store never quits it). A Cluster needs only `set`. */
  readonly redis: Pick<Redis, 'set'>;
  /** Key prefix, e.g. 'router:nonce:'. Keys are `<prefix>"<keyId>":"<nonce>"`. */
  readonly prefix: string;
}

/**
 * A {@link NonceStore} shared by every data-plane replica: `SET key 1 NX EX ttl` is atomic in Redis, so
 * of any number of concurrent claims of one nonce, on any replicas, exactly one succeeds, and Redis
 * expires the key itself. Redis failures reject with a `dependency_unavailable` RouterError (the cause
 * attached): replay protection fails closed.
 */
export function createRedisNonceStore(options: RedisNonceStoreOptions): NonceStore {
  return {
    async claim(keyId, nonce, ttlSeconds) {
      if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1) {
        throw new RangeError(`ttlSeconds must be a positive integer, got ${String(ttlSeconds)}`);
      }
      // JSON-quoting both parts keeps the pairs ("a:b", "c") and ("a", "b:c") on different keys.
      const key = `${options.prefix}${JSON.stringify(keyId)}:${JSON.stringify(nonce)}`;
      let reply: string | null;
      try {
        reply = await options.redis.set(key, '1', 'EX', ttlSeconds, 'NX');
      } catch (error: unknown) {
        throw new RouterError('dependency_unavailable', {
          message: 'Replay protection is unavailable.',
          cause: error,
        });
      }
      return reply === 'OK';
    },
  };
}
