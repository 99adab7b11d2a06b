import { DEFAULT_BUDGET_CHANGE_RETENTION_MS } from '@api-router/limits';

/** Timing of budget change bookkeeping: how long Redis remembers a change id, and the reconciler's pace. */
export interface BudgetChangeSettings {
  /**
   * How long Redis remembers a change id after it was applied or abandoned, ms (the limit store's
   * `budgetChangeRetentionMs`). Default {@link DEFAULT_BUDGET_CHANGE_RETENTION_MS} (7 days).
   */
  readonly changeRetentionMs: number;
  /**
   * Age (since its intent was stored) after which a change without an outcome is reconciled, ms. Longer
   * than an admin call takes between its intent and its outcome (Redis and audit store deadlines), so that
   * the reconciler does not abandon calls still running; one that does finds the change abandoned and
   * answers ABORTED. Default 60 000.
   */
  readonly graceMs: number;
  /** Time between reconciliation passes, ms. Default 30 000. */
  readonly intervalMs: number;
  /** Most open changes one pass settles (the rest wait for the next pass). Default 100. */
  readonly maxChangesPerPass: number;
}

export const DEFAULT_BUDGET_CHANGE_SETTINGS: BudgetChangeSettings = {
  changeRetentionMs: DEFAULT_BUDGET_CHANGE_RETENTION_MS,
  graceMs: 60_000,
  intervalMs: 30_000,
  maxChangesPerPass: 100,
};

/**
 * How long after its intent Redis can still tell whether a change was applied: half the change id
 * retention. Redis counts the retention from the application (after the intent, by Redis' clock); the half
 * is the margin for clock skew between control planes and Redis. Past it a change is neither replayed nor
 * asked about: the reconciler records it as `unknown`.
 */
export function decidableForMs(settings: Pick<BudgetChangeSettings, 'changeRetentionMs'>): number {
  return Math.floor(settings.changeRetentionMs / 2);
}
