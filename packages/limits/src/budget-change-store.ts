import { validateAmount, type BudgetRef } from './limit-plan.js';
import type { BudgetSnapshot } from './limit-store.js';
import { MAX_MICROS } from './math/budget-ledger.js';

/** One operator change of a budget. */
export type BudgetChange =
  | { readonly operation: 'top_up'; readonly amountMicros: number }
  | { readonly operation: 'reset' }
  | { readonly operation: 'set_limit'; readonly limitMicros: number | null };

/**
 * What `applyBudgetChange` did. `applied`: this call applied it (numbers right after). `already-applied`:
 * an earlier call with the same change id did; nothing was changed now and `budget` holds the numbers right
 * after that first application (not today's). `abandoned`: the change id was abandoned
 * (`abandonBudgetChange`) before any application; nothing was changed, and never will be under this id.
 */
export type BudgetChangeResult =
  | { readonly status: 'applied'; readonly budget: BudgetSnapshot }
  | { readonly status: 'already-applied'; readonly budget: BudgetSnapshot }
  | { readonly status: 'abandoned' };

/** Where a change id stands once `abandonBudgetChange` has answered: final either way. */
export type BudgetChangeFate =
  { readonly status: 'already-applied'; readonly budget: BudgetSnapshot } | { readonly status: 'abandoned' };

/** Default time a change id is remembered after its application (or abandonment): 7 days. */
export const DEFAULT_BUDGET_CHANGE_RETENTION_MS = 7 * 86_400_000;

/** Longest change-id retention accepted: 90 days. */
export const MAX_BUDGET_CHANGE_RETENTION_MS = 90 * 86_400_000;

/** Longest change id accepted, in characters. */
export const MAX_CHANGE_ID_LENGTH = 200;

/**
 * Budget changes identified by a change id, so that an audited change can be applied at most once and its
 * fate read back after a crash. The store remembers each change id — with the numbers right after it was
 * applied, or the fact that it was abandoned — for `budgetChangeRetentionMs` of store time (default
 * {@link DEFAULT_BUDGET_CHANGE_RETENTION_MS}); a change id used again after that is a new change. Each
 * operation is atomic with the budget change itself (one Lua script on Redis).
 *
 * Rejects with RangeError for invalid input (before anything is touched), BudgetChangeConflictError when the
 * change id is remembered for another budget or another change, LimitStoreUnavailableError (Redis).
 */
export interface BudgetChangeStore {
  /** Applies `change` unless `changeId` was applied or abandoned before (see {@link BudgetChangeResult}). */
  applyBudgetChange(ref: BudgetRef, changeId: string, change: BudgetChange): Promise<BudgetChangeResult>;
  /**
   * Settles a change id for good: `already-applied` (with the numbers after) when it was applied, else it is
   * recorded as abandoned — so that an application still in flight (a timed-out call, a stalled control
   * plane) finds it abandoned and changes nothing. The budget itself is not touched.
   */
  abandonBudgetChange(ref: BudgetRef, changeId: string): Promise<BudgetChangeFate>;
}

/** Throws a RangeError unless a change id retention is an integer in [1 ms, {@link MAX_BUDGET_CHANGE_RETENTION_MS}]. */
export function validateChangeRetention(retentionMs: number): void {
  if (!Number.isSafeInteger(retentionMs) || retentionMs < 1 || retentionMs > MAX_BUDGET_CHANGE_RETENTION_MS) {
    throw new RangeError(
      `budgetChangeRetentionMs must be an integer in [1, ${String(MAX_BUDGET_CHANGE_RETENTION_MS)}]`,
    );
  }
}

/** Throws a RangeError unless a change id is 1..{@link MAX_CHANGE_ID_LENGTH} characters. */
export function validateChangeId(changeId: string): void {
  if (changeId.length === 0 || changeId.length > MAX_CHANGE_ID_LENGTH) {
    throw new RangeError(`changeId must be 1..${String(MAX_CHANGE_ID_LENGTH)} characters`);
  }
}

/** Throws a RangeError unless the change's amount (top-up, new limit) is an integer in [0, MAX_MICROS]. */
export function validateBudgetChange(change: BudgetChange): void {
  if (change.operation === 'top_up') validateAmount(change.amountMicros, 'amountMicros', MAX_MICROS);
  if (change.operation === 'set_limit' && change.limitMicros !== null) {
    validateAmount(change.limitMicros, 'limitMicros', MAX_MICROS);
  }
}

/**
 * The one number that, with the operation, identifies a change (compared when a change id comes back):
 * the top-up amount, the new limit (-1 = back to the policy's limit), 0 for a reset.
 */
export function budgetChangeAmount(change: BudgetChange): number {
  switch (change.operation) {
    case 'top_up':
      return change.amountMicros;
    case 'reset':
      return 0;
    case 'set_limit':
      return change.limitMicros ?? -1;
  }
}
