/**
 * Store time per partition, never going backwards: the latest reading any operation on the partition saw.
 * Buckets and budgets would tolerate a clock step back on their own, but request records would not: whether
 * a record past its retention was already forgotten (garbage-collected) would depend on timing, and a step
 * back could revive it in one store and not the other. With a monotonic partition clock, "forgotten" is final.
 * The Redis scripts keep the same value in the partition's clock key (`partition_now` in the Lua library).
 * A Redis failover to a host whose clock is behind therefore freezes time until it catches up (no refill, no
 * expiry): the conservative direction.
 */
export interface PartitionClock {
  /** The partition's time for an operation whose clock reads `readingMs`, recorded as seen. */
  now(partition: string, readingMs: number): number;
  /** The latest time seen on the partition (0 for one never seen). */
  latest(partition: string): number;
}

export function createPartitionClock(): PartitionClock {
  const latestMsByPartition = new Map<string, number>();
  return {
    now(partition, readingMs) {
      const nowMs = Math.max(readingMs, latestMsByPartition.get(partition) ?? 0);
      latestMsByPartition.set(partition, nowMs);
      return nowMs;
    },
    latest: (partition) => latestMsByPartition.get(partition) ?? 0,
  };
}
