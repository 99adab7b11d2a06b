import { BudgetPeriod, type Budget, type LimitSet } from '@api-router/contracts';
import {
  budgetCheckId,
  ownerCheckId,
  type BudgetCheck,
  type LimitCheck,
  type LimitOwner,
  type LimitPlan,
} from './limit-plan.js';

/** The two owners whose limits apply to a request: its API key and the key's tenant. */
export interface LimitOwners {
  readonly tenant: { readonly id: string; readonly limits?: LimitSet | undefined };
  readonly key: { readonly publicId: string; readonly limits?: LimitSet | undefined };
}

/** A LimitSet with the owner it belongs to, key first. */
export interface OwnedLimits {
  readonly owner: LimitOwner;
  readonly limits: LimitSet;
}

const PERIODS: ReadonlyMap<BudgetPeriod, BudgetCheck['period']> = new Map([
  [BudgetPeriod.DAY, 'day'],
  [BudgetPeriod.MONTH, 'month'],
  [BudgetPeriod.TOTAL, 'total'],
]);

/**
 * Turns the key's and the tenant's LimitSets (validated by compileRuntimePolicy) into the plan the limiter
 * store admits against; partition = tenant id. Check order decides which denial is reported when several
 * deny: request rates, then token rates, then budgets, then concurrency — so a request denied by
 * concurrency alone (`deniedBy.kind === 'concurrency'`) is exactly one that may queue, and one that also
 * exceeds a rate or budget gets that final answer instead. Within a kind, the key's check comes before the
 * tenant's, budgets in id order. A limit of 0 (unset) adds no check; no limits at all gives no checks.
 * Cheap (a few small objects); the data plane may memoize it per policy and key.
 */
export function buildLimitPlan(owners: LimitOwners): LimitPlan {
  const sets = ownedLimits(owners);
  const checks: LimitCheck[] = [];
  for (const { owner, limits } of sets) {
    if (limits.requestsPerMinute > 0) {
      checks.push({
        kind: 'requests',
        id: ownerCheckId(owner),
        ratePerMinute: limits.requestsPerMinute,
        burst: limits.requestBurst,
      });
    }
  }
  for (const { owner, limits } of sets) {
    if (limits.tokensPerMinute > 0) {
      checks.push({
        kind: 'tokens',
        id: ownerCheckId(owner),
        tokensPerMinute: limits.tokensPerMinute,
        burst: limits.tokenBurst,
      });
    }
  }
  for (const { owner, limits } of sets) {
    for (const budget of limits.budgets) checks.push(budgetCheck(owner, budget));
  }
  for (const { owner, limits } of sets) {
    if (limits.maxConcurrent > 0) {
      checks.push({ kind: 'concurrency', id: ownerCheckId(owner), max: limits.maxConcurrent });
    }
  }
  return { partition: owners.tenant.id, checks };
}

/** The owners' LimitSets that exist, the key's first. */
export function ownedLimits(owners: LimitOwners): OwnedLimits[] {
  const sets: OwnedLimits[] = [];
  if (owners.key.limits !== undefined) {
    sets.push({ owner: { kind: 'key', publicId: owners.key.publicId }, limits: owners.key.limits });
  }
  if (owners.tenant.limits !== undefined) {
    sets.push({ owner: { kind: 'tenant', tenantId: owners.tenant.id }, limits: owners.tenant.limits });
  }
  return sets;
}

function budgetCheck(owner: LimitOwner, budget: Budget): BudgetCheck {
  const period = PERIODS.get(budget.period);
  // compileRuntimePolicy rejects unknown periods; reaching this means an unvalidated LimitSet.
  if (period === undefined)
    throw new RangeError(`budget ${budget.id}: unknown period ${String(budget.period)}`);
  return {
    kind: 'budget',
    id: budgetCheckId(owner, budget.id),
    limitMicros: Number(budget.limitMicros),
    period,
  };
}
