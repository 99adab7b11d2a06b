import {
  buildAdmitDecision,
  validateAdmitRequest,
  validateNowMs,
  validateReservation,
  validateUsage,
} from '../admit-decision.js';
import { DuplicateRequestError } from '../duplicate-request-error.js';
import { validateAmount, validateBudgetRef, type BudgetRef } from '../limit-plan.js';
import {
  DEFAULT_RECORD_RETENTION_MS,
  validateRetention,
  type AdmitDecision,
  type AdmitRequest,
  type BudgetSnapshot,
  type LimitStore,
} from '../limit-store.js';
import {
  MAX_MICROS,
  budgetAvailableMicros,
  budgetLimitMicros,
  budgetResetAtMs,
  type BudgetState,
} from '../math/budget-ledger.js';
import { prepareCheck } from './memory-admission.js';
import { createMemoryLimitState, type MemoryBudget } from './memory-limit-state.js';
import { endReservation } from './memory-settlement.js';

export interface MemoryLimitStoreOptions {
  /** Time source; `now()` in integer milliseconds since the epoch. */
  readonly clock: { now(): number };
  /**
   * How long a request record is remembered after its reservation expires or after it is settled/released
   * (for idempotent settle/release and late settlements). Default {@link DEFAULT_RECORD_RETENTION_MS}.
   */
  readonly recordRetentionMs?: number;
}

/** The numbers an admin sees for a budget. Shared with the Redis store through the same arithmetic. */
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
export function createMemoryLimitStore(options: MemoryLimitStoreOptions): LimitStore {
  const retentionMs = options.recordRetentionMs ?? DEFAULT_RECORD_RETENTION_MS;
  validateRetention(retentionMs);
  const state = createMemoryLimitState();

  /** The partition's time for this operation (see partition-clock.ts). */
  function now(partition: string): number {
    const readingMs = options.clock.now();
    validateNowMs(readingMs);
    const nowMs = state.clock.now(partition, readingMs);
    state.sweepRecords();
    return nowMs;
  }

  function adminUpdate(
    ref: BudgetRef,
    validate: () => void,
    update: (budget: MemoryBudget) => void,
  ): Promise<BudgetSnapshot> {
    return answer(() => {
      validateBudgetRef(ref);
      validate();
      const budget = state.budget(ref.partition, ref.id, undefined, now(ref.partition));
      update(budget);
      return budgetSnapshot(budget.state);
    });
  }

  function admit(request: AdmitRequest): AdmitDecision {
    validateAdmitRequest(request);
    const nowMs = now(request.plan.partition);
    if (state.record(request.plan.partition, request.requestId, nowMs) !== undefined) {
      throw new DuplicateRequestError(request.requestId);
    }
    const prepared = request.plan.checks.map((check) => prepareCheck(state, check, request, nowMs));
    if (!prepared.every((check) => check.result.allowed)) {
      return buildAdmitDecision(
        request,
        nowMs,
        prepared.map((check) => check.result),
      );
    }
    const results = prepared.map((check) => check.commit());
    const expiresAtMs = nowMs + request.reservationTtlMs;
    state.setRecord(request.plan.partition, request.requestId, {
      partition: request.plan.partition,
      status: 'reserved',
      expiresAtMs,
      retainUntilMs: expiresAtMs + retentionMs,
      tokens: request.costs.tokens,
      costMicros: request.costs.costMicros,
    });
    return buildAdmitDecision(request, nowMs, results);
  }

  return {
    admit: (request) => answer(() => admit(request)),
    settle: (reservation, usage) =>
      answer(() => {
        validateReservation(reservation);
        validateUsage(usage);
        const outcome = endReservation(state, reservation, usage, now(reservation.partition), retentionMs);
        return { ...outcome, status: outcome.status === 'done' ? 'settled' : outcome.status };
      }),
    release: (reservation) =>
      answer(() => {
        validateReservation(reservation);
        const outcome = endReservation(
          state,
          reservation,
          undefined,
          now(reservation.partition),
          retentionMs,
        );
        return { ...outcome, status: outcome.status === 'done' ? 'released' : outcome.status };
      }),
    getBudget: (ref) =>
      answer(() => {
        validateBudgetRef(ref);
        const budget = state.existingBudget(ref.partition, ref.id, now(ref.partition));
        return budget === undefined ? undefined : budgetSnapshot(budget.state);
      }),
    topUpBudget(ref, amountMicros) {
      return adminUpdate(
        ref,
        () => validateAmount(amountMicros, 'amountMicros', MAX_MICROS),
        (budget) => {
          budget.state = { ...budget.state, creditMicros: budget.state.creditMicros + amountMicros };
        },
      );
    },
    resetBudget(ref) {
      return adminUpdate(
        ref,
        () => undefined,
        (budget) => {
          budget.state = { ...budget.state, spentMicros: 0, creditMicros: 0 };
        },
      );
    },
    setBudgetLimit(ref, limitMicros) {
      const validate = (): void => {
        if (limitMicros !== null) validateAmount(limitMicros, 'limitMicros', MAX_MICROS);
      };
      return adminUpdate(ref, validate, (budget) => {
        budget.state = { ...budget.state, limitOverrideMicros: limitMicros ?? -1 };
      });
    },
  };
}
