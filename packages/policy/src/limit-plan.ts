// The admission plan the limiter stores of @api-router/limits consume. These types repeat the shape of
// `LimitPlan` / `LimitCheck` from packages/limits/src/limit-plan.ts field for field, because policy is pure
// domain and must not depend on a package that brings ioredis; TypeScript's structural typing makes a plan
// built here assignable to the store's `AdmitRequest.plan`, so a divergence fails to compile where the data
// plane passes one to the other.

/** Requests per minute: a token bucket charged one unit per admission. */
export interface RequestsCheck {
  readonly kind: 'requests';
  readonly id: string;
  /** Units refilled per minute (integer >= 1). */
  readonly ratePerMinute: number;
  /** Bucket capacity in requests (integer >= 1). */
  readonly burst: number;
}

/** LLM tokens per minute: charged the request's maximum token estimate, corrected at settlement. */
export interface TokensCheck {
  readonly kind: 'tokens';
  readonly id: string;
  /** Tokens refilled per minute (integer >= 1). */
  readonly tokensPerMinute: number;
  /** Bucket capacity in tokens (integer >= 1). */
  readonly burst: number;
}

/** Requests in flight at once. */
export interface ConcurrencyCheck {
  readonly kind: 'concurrency';
  readonly id: string;
  /** Most leases held at once (integer >= 0). */
  readonly max: number;
}

/** Money: the request's maximum cost is reserved at admission and replaced by its real cost at settlement. */
export interface BudgetCheck {
  readonly kind: 'budget';
  readonly id: string;
  /** Limit per period in micro-units (integer >= 0). */
  readonly limitMicros: number;
  /** UTC day, UTC calendar month, or `total` (never resets). */
  readonly period: 'day' | 'month' | 'total';
}

export type LimitCheck = RequestsCheck | TokensCheck | ConcurrencyCheck | BudgetCheck;

/** Every check that applies to one request; when several deny, the first in `checks` is reported. */
export interface LimitPlan {
  /** The tenant every check belongs to (the Redis hash tag); never contains `{` or `}`. */
  readonly partition: string;
  readonly checks: readonly LimitCheck[];
}

/** Who a limit belongs to. */
export type LimitOwner =
  | { readonly kind: 'tenant'; readonly tenantId: string }
  | { readonly kind: 'key'; readonly publicId: string };

/**
 * Id of the request, token and concurrency checks of an owner: "tenant:<tenantId>" or "key:<publicId>".
 * Ids are what audit events, metrics-free logs and the budget admin API name a limit by.
 */
export function ownerCheckId(owner: LimitOwner): string {
  return owner.kind === 'tenant' ? `tenant:${owner.tenantId}` : `key:${owner.publicId}`;
}

/**
 * Id of an owner's budget check, which is also its `BudgetRef.id` in the limiter store (with the tenant id
 * as partition): "tenant:<tenantId>:<budgetId>" or "key:<publicId>:<budgetId>".
 */
export function budgetCheckId(owner: LimitOwner, budgetId: string): string {
  return `${ownerCheckId(owner)}:${budgetId}`;
}
