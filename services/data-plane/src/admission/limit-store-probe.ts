import type { Redis } from 'ioredis';
import { DEFAULT_LIMITS_KEY_PREFIX } from '@api-router/limits';
import type { Timers } from '../timers.js';

/** The key the recovery probe writes (under the limits prefix; it expires by itself). */
export const LIMIT_STORE_PROBE_KEY = `${DEFAULT_LIMITS_KEY_PREFIX}probe`;
/** Expiry of the probe key: it holds nothing anyone reads, only the write matters. */
const PROBE_KEY_TTL_MS = 10_000;

/**
 * The recovery probe of the shared limit store: one small write (SET of {@link LIMIT_STORE_PROBE_KEY} with
 * a short expiry) with a deadline, so a paused or unreachable Redis rejects after `timeoutMs` instead of
 * hanging. A write, not a PING: every limit store script writes, and Redis answers PING while it refuses
 * writes — `maxmemory` reached with `noeviction` (OOM replies), too few replicas for `min-replicas-to-write`,
 * a replica after a failover (READONLY). A PING probe then ends degraded mode at once, every admission
 * goes to Redis again and fails, and degraded mode flaps for as long as the cause lasts.
 */
export async function probeLimitStore(redis: Redis, timers: Timers, timeoutMs: number): Promise<void> {
  let timer: ReturnType<Timers['setTimeout']> | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = timers.setTimeout(
      () => reject(new Error(`the limit store probe took longer than ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    await Promise.race([redis.set(LIMIT_STORE_PROBE_KEY, '1', 'PX', PROBE_KEY_TTL_MS), timeout]);
  } finally {
    if (timer !== undefined) timers.clearTimeout(timer);
  }
}
