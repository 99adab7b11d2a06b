import {
  validateAdmitRequest,
  validateNowMs,
  validateReservation,
  validateUsage,
} from '../admit-decision.js';
import { BudgetChangeConflictError } from '../budget-change-conflict-error.js';
import {
  DEFAULT_BUDGET_CHANGE_RETENTION_MS,
  validateBudgetChange,
  validateChangeId,
  validateChangeRetention,
  type BudgetChange,
  type BudgetChangeStore,
} from '../budget-change-store.js';
import { validateBudgetRef, type BudgetRef } from '../limit-plan.js';
import {
  DEFAULT_RECORD_RETENTION_MS,
  validateRetention,
  type BudgetSnapshot,
  type LimitStore,
  type Reservation,
  type Usage,
} from '../limit-store.js';
import {
  budgetAvailableMicros,
  budgetLimitMicros,
  budgetResetAtMs,
  MAX_MICROS,
  type BudgetState,
} from '../math/budget-ledger.js';
import { admitToState } from './memory-admission.js';
import { createMemoryBudgetChanges } from './memory-budget-changes.js';
import { createMemoryLimitState } from './memory-limit-state.js';
import { endReservation } from './memory-settlement.js';

export interface MemoryLimitStoreOptions {
  /** Time source; `now()` in integer milliseconds since the epoch. */
  readonly clock: { now(): number };
  /**
   * How long a request record is remembered after its reservation expires or after it is settled/released
   * (for idempotent settle/release and late settlements). Default {@link DEFAULT_RECORD_RETENTION_MS}.
   */
  readonly recordRetentionMs?: number;
  /** How long a budget change id is remembered; default {@link DEFAULT_BUDGET_CHANGE_RETENTION_MS}. */
  readonly budgetChangeRetentionMs?: number;
}

/** The numbers an admin sees for a budget (the budget admin script reports the same ones). */
export function budgetSnapshot(state: BudgetState): BudgetSnapshot {
  return {
    period: state.period,
    limitMicros: budgetLimitMicros(state),
    spentMicros: state.spentMicros,
    reservedMicros: state.reservedMicros,
    remainingMicros: Math.max(0, budgetAvailableMicros(state)),
    periodStartMs: state.periodStartMs === -1 ? null : state.periodStartMs,
    periodResetAtMs: budgetResetAtMs(state),
  };
}

/** Runs `body` now, turning a throw into a rejection (the store's methods always answer with a promise). */
function answer<T>(body: () => T): Promise<T> {
  return new Promise((resolve) => {
    resolve(body());
  });
}

/**
 * The embedded {@link LimitStore}: process-local state, the same semantics as the Redis store (the
 * differential test holds them to identical answers). Replicas do not share it; run one data plane per
 * memory store, or use Redis. Nothing runs in the background: expiry and reclaim happen on access.
 */
export function createMemoryLimitStore(options: MemoryLimitStoreOptions): LimitStore & BudgetChangeStore {
  const retentionMs = options.recordRetentionMs ?? DEFAULT_RECORD_RETENTION_MS;
  validateRetention(retentionMs);
  const changeRetentionMs = options.budgetChangeRetentionMs ?? DEFAULT_BUDGET_CHANGE_RETENTION_MS;
  validateChangeRetention(changeRetentionMs);
  const state = createMemoryLimitState();
  const changes = createMemoryBudgetChanges(changeRetentionMs, state.clock);

  /** The partition's time for this operation (see partition-clock.ts). */
  function now(partition: string): number {
    const readingMs = options.clock.now();
    validateNowMs(readingMs);
    const nowMs = state.clock.now(partition, readingMs);
    state.sweepRecords();
    return nowMs;
  }

  /** Rolls and reclaims the budget (creating it when missing), applies `update`, and reports it. */
  function adminUpdate(
    ref: BudgetRef,
    update: (budget: BudgetState) => BudgetState,
    nowMs: number,
  ): BudgetSnapshot {
    validateBudgetRef(ref);
    const budget = state.budget(ref.partition, ref.id, undefined, nowMs);
    budget.state = update(budget.state);
    return budgetSnapshot(budget.state);
  }

  /** The state update of a change (the budget admin script's topup / reset / limit). */
  function updateOf(change: BudgetChange): (budget: BudgetState) => BudgetState {
    switch (change.operation) {
      case 'top_up':
        // Capped at MAX_MICROS (as each top-up is): with a limit of at most as much, every budget number stays
        // below 2 × 10^15, exact in doubles (the Redis script does the same).
        return (budget) => ({
          ...budget,
          creditMicros: Math.min(budget.creditMicros + change.amountMicros, MAX_MICROS),
        });
      case 'reset':
        return (budget) => ({ ...budget, spentMicros: 0, creditMicros: 0 });
      case 'set_limit':
        return (budget) => ({ ...budget, limitOverrideMicros: change.limitMicros ?? -1 });
    }
  }

  function end(reservation: Reservation, usage: Usage | undefined): ReturnType<typeof endReservation> {
    validateReservation(reservation);
    if (usage !== undefined) validateUsage(usage);
    return endReservation(state, reservation, usage, now(reservation.partition), retentionMs);
  }

  return {
    admit: (request) =>
      answer(() => {
        validateAdmitRequest(request);
        return admitToState(state, request, now(request.plan.partition), retentionMs);
      }),
    settle: (reservation, usage) =>
      answer(() => {
        const outcome = end(reservation, usage);
        return { ...outcome, status: outcome.status === 'done' ? 'settled' : outcome.status };
      }),
    release: (reservation) =>
      answer(() => {
        const outcome = end(reservation, undefined);
        return { ...outcome, status: outcome.status === 'done' ? 'released' : outcome.status };
      }),
    getBudget: (ref) =>
      answer(() => {
        validateBudgetRef(ref);
        const budget = state.existingBudget(ref.partition, ref.id, now(ref.partition));
        return budget === undefined ? undefined : budgetSnapshot(budget.state);
      }),
    applyBudgetChange: (ref, changeId, change) =>
      answer(() => {
        validateBudgetRef(ref);
        validateChangeId(changeId);
        validateBudgetChange(change);
        const nowMs = now(ref.partition);
        const remembered = changes.lookup(ref.partition, ref.id, changeId, change, nowMs);
        if (remembered?.status === 'conflict') throw new BudgetChangeConflictError(changeId);
        if (remembered !== undefined) return remembered;
        const budget = adminUpdate(ref, updateOf(change), nowMs);
        changes.rememberApplied(ref.partition, ref.id, changeId, change, budget, nowMs);
        return { status: 'applied', budget };
      }),
    abandonBudgetChange: (ref, changeId) =>
      answer(() => {
        validateBudgetRef(ref);
        validateChangeId(changeId);
        const nowMs = now(ref.partition);
        const remembered = changes.lookup(ref.partition, ref.id, changeId, undefined, nowMs);
        if (remembered?.status === 'conflict') throw new BudgetChangeConflictError(changeId);
        if (remembered !== undefined) return remembered;
        changes.rememberAbandoned(ref.partition, ref.id, changeId, nowMs);
        return { status: 'abandoned' };
      }),
  };
}
