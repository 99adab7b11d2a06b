import { BudgetFailureMode, BudgetPeriod, RateLimitFailureMode, type LimitSet } from '@api-router/contracts';
import { MAX_BUDGET_MICROS, MAX_CONCURRENT, PPM_PER_WHOLE } from './limit-bounds.js';

const PERIODS = new Set<BudgetPeriod>([BudgetPeriod.DAY, BudgetPeriod.MONTH, BudgetPeriod.TOTAL]);
const RATE_MODES = new Set<RateLimitFailureMode>([
  RateLimitFailureMode.UNSPECIFIED,
  RateLimitFailureMode.FAIL_OPEN_LOCAL_SHARE,
  RateLimitFailureMode.FAIL_CLOSED,
]);
const BUDGET_MODES = new Set<BudgetFailureMode>([
  BudgetFailureMode.UNSPECIFIED,
  BudgetFailureMode.FAIL_CLOSED,
  BudgetFailureMode.FAIL_OPEN,
]);

/**
 * Why a snapshot's LimitSet cannot be enforced, or undefined when it can: a rate without a burst (or a burst
 * without a rate), a half-set queue, budget ids empty or repeated, limits above what the limiter stores
 * accept, unknown enum values (a newer control plane), a local share above one.
 */
export function describeLimitSetProblem(limits: LimitSet): string | undefined {
  const rates = [
    ['requests_per_minute', limits.requestsPerMinute, 'request_burst', limits.requestBurst],
    ['tokens_per_minute', limits.tokensPerMinute, 'token_burst', limits.tokenBurst],
  ] as const;
  for (const [rateName, rate, burstName, burst] of rates) {
    if (rate > 0 && burst < 1) return `${burstName} must be at least 1 when ${rateName} is set`;
    if (rate === 0 && burst > 0) return `${burstName} is set without ${rateName}`;
  }
  if (limits.maxConcurrent > MAX_CONCURRENT) return `max_concurrent must be at most ${MAX_CONCURRENT}`;
  const queue = limits.queue;
  if (queue !== undefined && (queue.maxWaitMs === 0) !== (queue.maxLength === 0)) {
    return 'queue.max_wait_ms and queue.max_length must both be 0 or both above 0';
  }
  const budgetIds = new Set<string>();
  for (const budget of limits.budgets) {
    if (budget.id === '') return 'empty budget id';
    if (budgetIds.has(budget.id)) return `duplicate budget id "${budget.id}"`;
    budgetIds.add(budget.id);
    if (budget.limitMicros > BigInt(MAX_BUDGET_MICROS)) {
      return `budget ${budget.id}: limit_micros must be at most ${MAX_BUDGET_MICROS}`;
    }
    if (!PERIODS.has(budget.period)) return `budget ${budget.id}: unknown period ${String(budget.period)}`;
  }
  const failure = limits.onStoreFailure;
  if (failure !== undefined) {
    if (!RATE_MODES.has(failure.rateLimits)) {
      return `on_store_failure.rate_limits: unknown mode ${String(failure.rateLimits)}`;
    }
    if (!BUDGET_MODES.has(failure.budgets)) {
      return `on_store_failure.budgets: unknown mode ${String(failure.budgets)}`;
    }
    if (failure.localSharePpm > PPM_PER_WHOLE) {
      return `on_store_failure.local_share_ppm must be at most ${PPM_PER_WHOLE}`;
    }
  }
  return undefined;
}
