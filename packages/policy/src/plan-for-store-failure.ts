import { BudgetFailureMode, RateLimitFailureMode, type LimitSet } from '@api-router/contracts';
import { buildLimitPlan, ownedLimits, type LimitOwners } from './build-limit-plan.js';
import { DEFAULT_LOCAL_SHARE_PPM, PPM_PER_WHOLE } from './limit-bounds.js';
import { budgetCheckId, ownerCheckId, type LimitCheck, type LimitPlan } from './limit-plan.js';

/** What to do with a request while the shared limiter store (Redis) is unavailable. */
export type StoreFailurePlan =
  | {
      /** Admit against `plan` with the in-process store. */
      readonly kind: 'local';
      /** Rate and concurrency checks scaled to each owner's local share; no budget checks. */
      readonly plan: LimitPlan;
      /** Ids of the fail-open budgets left unchecked and uncharged (for the audit event and metrics). */
      readonly uncheckedBudgetIds: readonly string[];
    }
  | {
      /** Reject with 503 (never 402 or 429: nothing is known to be exhausted). */
      readonly kind: 'reject';
      readonly reason: 'rate-limits-fail-closed' | 'budgets-fail-closed';
      /** The check that fails closed (an owner's check id, or a budget check id). */
      readonly checkId: string;
    };

/**
 * Applies each owner's StoreFailurePolicy (the key's first, then the tenant's) when the shared store cannot
 * be reached:
 * - an owner with a rate, token or concurrency limit and rate_limits FAIL_CLOSED → reject;
 * - an owner with a budget and budgets not FAIL_OPEN (UNSPECIFIED counts as FAIL_CLOSED) → reject;
 * - otherwise the normal plan (same ids and order) with every rate, burst and concurrency limit scaled to the
 *   owner's local share — floor(limit × local_share_ppm / 10^6), never below 1; ppm 0 means the default
 *   {@link DEFAULT_LOCAL_SHARE_PPM} — and budget checks removed.
 * Owners without limits impose nothing. Pure; integer math only.
 */
export function planForStoreFailure(owners: LimitOwners): StoreFailurePlan {
  for (const { owner, limits } of ownedLimits(owners)) {
    const failure = limits.onStoreFailure;
    if (hasRateLimits(limits) && failure?.rateLimits === RateLimitFailureMode.FAIL_CLOSED) {
      return { kind: 'reject', reason: 'rate-limits-fail-closed', checkId: ownerCheckId(owner) };
    }
    const firstBudget = limits.budgets[0];
    if (firstBudget !== undefined && failure?.budgets !== BudgetFailureMode.FAIL_OPEN) {
      return { kind: 'reject', reason: 'budgets-fail-closed', checkId: budgetCheckId(owner, firstBudget.id) };
    }
  }
  const shareOf = new Map<string, number>();
  for (const { owner, limits } of ownedLimits(owners)) {
    shareOf.set(ownerCheckId(owner), limits.onStoreFailure?.localSharePpm || DEFAULT_LOCAL_SHARE_PPM);
  }
  const normal = buildLimitPlan(owners);
  const checks: LimitCheck[] = [];
  const uncheckedBudgetIds: string[] = [];
  for (const check of normal.checks) {
    if (check.kind === 'budget') uncheckedBudgetIds.push(check.id);
    else checks.push(scaled(check, shareOf.get(check.id) ?? DEFAULT_LOCAL_SHARE_PPM));
  }
  return { kind: 'local', plan: { partition: normal.partition, checks }, uncheckedBudgetIds };
}

/** `limit` × `sharePpm` / 10^6 rounded down, at least 1. Exact: both factors stay below 2^32. */
export function localShareOf(limit: number, sharePpm: number): number {
  return Math.max(1, Math.floor((limit * sharePpm) / PPM_PER_WHOLE));
}

function scaled(check: Exclude<LimitCheck, { kind: 'budget' }>, sharePpm: number): LimitCheck {
  switch (check.kind) {
    case 'requests':
      return {
        ...check,
        ratePerMinute: localShareOf(check.ratePerMinute, sharePpm),
        burst: localShareOf(check.burst, sharePpm),
      };
    case 'tokens':
      return {
        ...check,
        tokensPerMinute: localShareOf(check.tokensPerMinute, sharePpm),
        burst: localShareOf(check.burst, sharePpm),
      };
    case 'concurrency':
      return { ...check, max: localShareOf(check.max, sharePpm) };
  }
}

function hasRateLimits(limits: LimitSet): boolean {
  return limits.requestsPerMinute > 0 || limits.tokensPerMinute > 0 || limits.maxConcurrent > 0;
}
