import type { BudgetPeriod } from './math/budget-period.js';
import { MAX_MICROS } from './math/budget-ledger.js';
import { MAX_BUCKET_UNITS } from './math/token-bucket.js';

/** Requests per minute: a token bucket charged one unit per admission. */
export interface RequestsCheck {
  readonly kind: 'requests';
  readonly id: string;
  /** Units refilled per minute (integer >= 1). */
  readonly ratePerMinute: number;
  /** Bucket capacity in requests (integer >= 1). */
  readonly burst: number;
}

/**
 * LLM tokens per minute: a token bucket charged the request's maximum token estimate at admission and
 * corrected to the real count at settlement (refunded in full at release).
 */
export interface TokensCheck {
  readonly kind: 'tokens';
  readonly id: string;
  /** Tokens refilled per minute (integer >= 1). */
  readonly tokensPerMinute: number;
  /** Bucket capacity in tokens (integer >= 1); a request estimated above it is never admitted. */
  readonly burst: number;
}

/** Requests in flight at once: leases that end at settlement/release or, for a crashed replica, at expiry. */
export interface ConcurrencyCheck {
  readonly kind: 'concurrency';
  readonly id: string;
  /** Most leases held at once (integer >= 0; 0 admits nothing). */
  readonly max: number;
}

/** Money: the request's maximum cost is reserved at admission and replaced by its real cost at settlement. */
export interface BudgetCheck {
  readonly kind: 'budget';
  readonly id: string;
  /** Limit per period in micro-units (integer >= 0). */
  readonly limitMicros: number;
  /** UTC day, UTC calendar month, or `total` (never resets). */
  readonly period: BudgetPeriod;
}

export type LimitCheck = RequestsCheck | TokensCheck | ConcurrencyCheck | BudgetCheck;
export type LimitCheckKind = LimitCheck['kind'];

/**
 * Every check that applies to one request, compiled from policy (pure data). Order matters only for
 * reporting: when several checks deny, the first one in this list is `deniedBy`.
 */
export interface LimitPlan {
  /**
   * The tenant every check belongs to. The Redis store puts it in a hash tag so that all keys of one
   * admission share a Redis Cluster slot; it must not contain `{` or `}`.
   */
  readonly partition: string;
  readonly checks: readonly LimitCheck[];
}

/** Where a budget lives: the tenant partition and the budget id. */
export interface BudgetRef {
  readonly partition: string;
  readonly id: string;
}

function requireInteger(value: number, name: string, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(
      `${name} must be an integer in [${String(min)}, ${String(max)}], got ${String(value)}`,
    );
  }
}

/** Throws a RangeError naming the field when a partition or id cannot be used as a key part. */
export function validateBudgetRef(ref: BudgetRef): void {
  validatePartition(ref.partition);
  if (ref.id.length === 0) throw new RangeError('budget id must not be empty');
}

export function validatePartition(partition: string): void {
  if (partition.length === 0 || /[{}]/.test(partition)) {
    throw new RangeError(`partition must be non-empty without '{' or '}', got ${JSON.stringify(partition)}`);
  }
}

function validateCheck(check: LimitCheck): void {
  if (check.id.length === 0) throw new RangeError(`${check.kind} check id must not be empty`);
  const label = `${check.kind} check ${JSON.stringify(check.id)}`;
  switch (check.kind) {
    case 'requests':
      requireInteger(check.ratePerMinute, `${label} ratePerMinute`, 1, MAX_BUCKET_UNITS);
      requireInteger(check.burst, `${label} burst`, 1, MAX_BUCKET_UNITS);
      return;
    case 'tokens':
      requireInteger(check.tokensPerMinute, `${label} tokensPerMinute`, 1, MAX_BUCKET_UNITS);
      requireInteger(check.burst, `${label} burst`, 1, MAX_BUCKET_UNITS);
      return;
    case 'concurrency':
      requireInteger(check.max, `${label} max`, 0, 1_000_000);
      return;
    case 'budget':
      requireInteger(check.limitMicros, `${label} limitMicros`, 0, MAX_MICROS);
      if (!['day', 'month', 'total'].includes(check.period))
        throw new RangeError(`${label} period is invalid`);
      return;
  }
}

/** Throws a RangeError for a malformed plan, including a (kind, id) pair listed twice. */
export function validatePlan(plan: LimitPlan): void {
  validatePartition(plan.partition);
  const seen = new Set<string>();
  for (const check of plan.checks) {
    validateCheck(check);
    const key = `${check.kind}\u0000${check.id}`;
    if (seen.has(key))
      throw new RangeError(`${check.kind} check ${JSON.stringify(check.id)} is listed twice`);
    seen.add(key);
  }
}

/** Throws a RangeError unless `value` is a whole number of tokens or micros within the accepted range. */
export function validateAmount(value: number, name: string, max: number): void {
  requireInteger(value, name, 0, max);
}
