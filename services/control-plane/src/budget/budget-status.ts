import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { BudgetStatusSchema, type BudgetStatus } from '@api-router/contracts';
import type { BudgetSnapshot } from '@api-router/limits';
import type { BudgetNumbers } from './budget-numbers.js';
import type { PolicyBudget } from './find-policy-budget.js';

/**
 * The wire status of a budget: the store's numbers, or — for a budget no request or admin call has touched
 * yet (`snapshot` undefined) — the policy's limit with nothing spent or reserved.
 */
export function budgetStatus(budget: PolicyBudget, snapshot: BudgetSnapshot | undefined): BudgetStatus {
  const base = {
    tenantId: budget.tenantId,
    budgetId: budget.budgetId,
    period: budget.period,
    policyLimitMicros: BigInt(budget.limitMicros),
  };
  if (snapshot === undefined) {
    return create(BudgetStatusSchema, {
      ...base,
      limitMicros: BigInt(budget.limitMicros),
      remainingMicros: BigInt(budget.limitMicros),
      policyLimitAdopted: false,
    });
  }
  return create(BudgetStatusSchema, {
    ...base,
    limitMicros: BigInt(snapshot.limitMicros),
    spentMicros: BigInt(snapshot.spentMicros),
    reservedMicros: BigInt(snapshot.reservedMicros),
    remainingMicros: BigInt(snapshot.remainingMicros),
    ...(snapshot.periodResetAtMs === null
      ? {}
      : { periodResetAt: timestampFromMs(snapshot.periodResetAtMs) }),
    policyLimitAdopted: snapshot.period !== null,
  });
}

/** The wire status of `budget` with numbers recorded in a change's audit events (a replayed call's answer). */
export function budgetStatusFromNumbers(budget: PolicyBudget, numbers: BudgetNumbers): BudgetStatus {
  return create(BudgetStatusSchema, {
    tenantId: budget.tenantId,
    budgetId: budget.budgetId,
    period: budget.period,
    policyLimitMicros: BigInt(budget.limitMicros),
    limitMicros: numbers.limitMicros,
    spentMicros: numbers.spentMicros,
    reservedMicros: numbers.reservedMicros,
    remainingMicros: numbers.remainingMicros,
    ...(numbers.periodResetAtMs === undefined
      ? {}
      : { periodResetAt: timestampFromMs(numbers.periodResetAtMs) }),
    policyLimitAdopted: numbers.policyLimitAdopted,
  });
}
