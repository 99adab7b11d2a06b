/**
 * Token-bucket arithmetic shared by every store. `src/redis/lua-library.ts` mirrors each function here
 * operation for operation: both run on IEEE-754 doubles holding integers below 2^53, so as long as the
 * operations and their order are the same, both stores agree bit for bit (the Lua/TS parity rule).
 *
 * Levels are kept in *scaled units*: one request or one LLM token is {@link BUCKET_SCALE} scaled units, so a
 * refill of `ratePerMinute` units per minute is exactly `ratePerMinute` scaled units per millisecond and no
 * fraction is ever rounded away.
 */

/** Scaled units per unit (request or token): the number of milliseconds in a minute. */
export const BUCKET_SCALE = 60_000;

/** Largest rate, burst or per-request cost accepted, so that every scaled value stays far below 2^53. */
export const MAX_BUCKET_UNITS = 10_000_000_000;

export interface BucketState {
  /** Scaled units available; negative after a settlement charged more than was reserved (debt). */
  readonly levelScaled: number;
  /** Store time (ms since the epoch) the level was last brought up to date. */
  readonly updatedAtMs: number;
}

export interface BucketLimits {
  /** Units added per minute (requests or tokens). */
  readonly ratePerMinute: number;
  /** Capacity in units: the most that can be spent at once after an idle period. */
  readonly burst: number;
}

export interface BucketVerdict {
  readonly allowed: boolean;
  /** Ms until `cost` fits; `null` when it never fits (cost above the burst); 0 when allowed. */
  readonly retryAfterMs: number | null;
}

/** `ceil(numerator / denominator)` for a numerator >= 0 and a denominator > 0, without leaving integers. */
export function ceilDiv(numerator: number, denominator: number): number {
  return Math.floor((numerator + denominator - 1) / denominator);
}

/** Capacity in scaled units. */
export function bucketCapacity(limits: BucketLimits): number {
  return limits.burst * BUCKET_SCALE;
}

/**
 * The bucket at `nowMs`: a missing bucket is full; an existing one gains `ratePerMinute` scaled units per
 * elapsed millisecond up to its capacity. A clock that went backwards adds nothing and never moves
 * `updatedAtMs` back. A level above a (since lowered) capacity is cut to it.
 */
export function refillBucket(
  state: BucketState | undefined,
  limits: BucketLimits,
  nowMs: number,
): BucketState {
  const capacity = bucketCapacity(limits);
  if (state === undefined) return { levelScaled: capacity, updatedAtMs: nowMs };
  let level = Math.min(state.levelScaled, capacity);
  const elapsedMs = nowMs - state.updatedAtMs;
  if (elapsedMs <= 0) return { levelScaled: level, updatedAtMs: state.updatedAtMs };
  if (level < capacity) {
    // Clamping the elapsed time to the time a refill from this level takes keeps the product small.
    const fullAfterMs = ceilDiv(capacity - level, limits.ratePerMinute);
    level = Math.min(capacity, level + Math.min(elapsedMs, fullAfterMs) * limits.ratePerMinute);
  }
  return { levelScaled: level, updatedAtMs: nowMs };
}

/** Whether `costUnits` can be taken from a refilled level, and if not, when it can. */
export function evaluateBucket(levelScaled: number, costUnits: number, limits: BucketLimits): BucketVerdict {
  if (costUnits > limits.burst) return { allowed: false, retryAfterMs: null };
  const needScaled = costUnits * BUCKET_SCALE;
  if (levelScaled >= needScaled) return { allowed: true, retryAfterMs: 0 };
  return { allowed: false, retryAfterMs: ceilDiv(needScaled - levelScaled, limits.ratePerMinute) };
}

/** Whole units available (never negative): the `remaining` reported in headers. */
export function bucketRemainingUnits(levelScaled: number): number {
  return Math.max(0, Math.floor(levelScaled / BUCKET_SCALE));
}

/** Store time at which the bucket is full again (the `reset` reported in headers). */
export function bucketResetAtMs(levelScaled: number, limits: BucketLimits, nowMs: number): number {
  const capacity = bucketCapacity(limits);
  if (levelScaled >= capacity) return nowMs;
  return nowMs + ceilDiv(capacity - levelScaled, limits.ratePerMinute);
}

/**
 * Adds `deltaUnits` (negative to charge) to a level, keeping it within [-capacity, capacity]: a refund never
 * overfills, and a charge beyond the reservation creates at most one full bucket of debt.
 */
export function adjustBucketLevel(levelScaled: number, deltaUnits: number, limits: BucketLimits): number {
  const capacity = bucketCapacity(limits);
  return Math.max(-capacity, Math.min(capacity, levelScaled + deltaUnits * BUCKET_SCALE));
}
