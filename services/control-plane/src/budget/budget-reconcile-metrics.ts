import { Counter, type Registry } from 'prom-client';
import type { BudgetChangeOutcome } from './budget-change-event.js';

/** The budget change reconciler's series (labels: closed sets). */
export interface BudgetReconcileMetrics {
  /**
   * router_cp_budget_changes_reconciled_total{outcome="applied|not_applied|unknown"}: outcomes the
   * reconciler of this control plane stored (one another replica or the call stored first is not counted).
   */
  reconciled: Counter<'outcome'>;
  /** router_cp_budget_reconcile_failures_total: passes cut short by a failing Redis or audit store. */
  failures: Counter;
}

const OUTCOMES: readonly BudgetChangeOutcome['phase'][] = ['applied', 'not_applied', 'unknown'];

/** Registers the reconciler's series on `registry` (never the prom-client default registry). */
export function createBudgetReconcileMetrics(registry: Registry): BudgetReconcileMetrics {
  const registers = [registry];
  const reconciled = new Counter({
    name: 'router_cp_budget_changes_reconciled_total',
    help: 'Budget changes left without an outcome whose outcome the reconciler recorded, by outcome.',
    labelNames: ['outcome'],
    registers,
  });
  for (const outcome of OUTCOMES) reconciled.inc({ outcome }, 0);
  return {
    reconciled,
    failures: new Counter({
      name: 'router_cp_budget_reconcile_failures_total',
      help: 'Budget reconciliation passes cut short because Redis or the audit store failed.',
      registers,
    }),
  };
}
