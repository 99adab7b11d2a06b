import { BudgetPeriod, type LimitSet, type PolicySnapshot } from '@api-router/contracts';
import { budgetCheckId } from '@api-router/policy';

/** A budget of the published policy, found by its tenant and full check id. */
export interface PolicyBudget {
  readonly tenantId: string;
  /** Full check id ("tenant:acme:daily", "key:rk_demo01:daily"): the limit store's budget id. */
  readonly budgetId: string;
  /** The key owning the budget; undefined for a tenant budget. */
  readonly keyPublicId: string | undefined;
  readonly limitMicros: number;
  readonly period: 'day' | 'month' | 'total';
}

const PERIODS: ReadonlyMap<BudgetPeriod, PolicyBudget['period']> = new Map([
  [BudgetPeriod.DAY, 'day'],
  [BudgetPeriod.MONTH, 'month'],
  [BudgetPeriod.TOTAL, 'total'],
]);

/**
 * The budget `budgetId` of tenant `tenantId` in `snapshot`, named as the data planes name it
 * (buildLimitPlan: the tenant's budgets and the budgets of the tenant's keys); undefined when the policy
 * defines no such budget, so that an operator's typo never creates a budget the data planes never use.
 */
export function findPolicyBudget(
  snapshot: PolicySnapshot,
  tenantId: string,
  budgetId: string,
): PolicyBudget | undefined {
  const tenant = snapshot.tenants.find((candidate) => candidate.id === tenantId);
  if (tenant === undefined) return undefined;
  const found = findIn(tenant.limits, (id) => budgetCheckId({ kind: 'tenant', tenantId }, id), budgetId);
  if (found !== undefined) return { ...found, tenantId, budgetId, keyPublicId: undefined };
  for (const key of snapshot.apiKeys) {
    if (key.tenantId !== tenantId) continue;
    const owner = { kind: 'key', publicId: key.publicId } as const;
    const ofKey = findIn(key.limits, (id) => budgetCheckId(owner, id), budgetId);
    if (ofKey !== undefined) return { ...ofKey, tenantId, budgetId, keyPublicId: key.publicId };
  }
  return undefined;
}

function findIn(
  limits: LimitSet | undefined,
  checkId: (id: string) => string,
  budgetId: string,
): Pick<PolicyBudget, 'limitMicros' | 'period'> | undefined {
  for (const budget of limits?.budgets ?? []) {
    const period = PERIODS.get(budget.period);
    if (period !== undefined && checkId(budget.id) === budgetId) {
      return { limitMicros: Number(budget.limitMicros), period };
    }
  }
  return undefined;
}
