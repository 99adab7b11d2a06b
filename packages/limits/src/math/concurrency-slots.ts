/**
 * Concurrency-slot arithmetic shared by every store and mirrored in `src/redis/lua-library.ts`. A slot is a
 * lease that ends at its request's settlement or release, or at its expiry when the replica holding it
 * crashed; expired leases (`expiresAtMs <= nowMs`) are dropped lazily before counting.
 */

/**
 * The `Retry-After` hint for a full set of slots. A slot frees when some running request ends, which no store
 * can predict; the data plane's queue, not the client's retry, is the real answer to a full set.
 */
export const CONCURRENCY_RETRY_HINT_MS = 1000;

export interface SlotVerdict {
  readonly allowed: boolean;
  /** 0 when allowed; otherwise the hint, or sooner when the earliest lease expires sooner. */
  readonly retryAfterMs: number;
}

/**
 * Whether one more slot can be taken. `earliestExpiryMs` is the earliest live lease's expiry (`null` when
 * none is live).
 */
export function evaluateSlots(
  activeCount: number,
  max: number,
  earliestExpiryMs: number | null,
  nowMs: number,
): SlotVerdict {
  if (activeCount < max) return { allowed: true, retryAfterMs: 0 };
  const untilExpiryMs = earliestExpiryMs === null ? CONCURRENCY_RETRY_HINT_MS : earliestExpiryMs - nowMs;
  return { allowed: false, retryAfterMs: Math.min(CONCURRENCY_RETRY_HINT_MS, untilExpiryMs) };
}

/** The `reset` reported for a slot check: the earliest live lease's expiry, or now when no lease is live. */
export function slotsResetAtMs(earliestExpiryMs: number | null, nowMs: number): number {
  return earliestExpiryMs === null ? nowMs : earliestExpiryMs;
}
