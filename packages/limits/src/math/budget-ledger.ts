import { periodEndMs, periodStartMs, type BudgetPeriod } from './budget-period.js';

/**
 * Money-budget arithmetic shared by every store and mirrored step for step in `src/redis/lua-library.ts`.
 * All amounts are integer micro-units (1 currency unit = 1,000,000 micros).
 */

/** Largest limit, top-up or per-request cost accepted (10^15 micros), far below 2^53. */
export const MAX_MICROS = 1_000_000_000_000_000;

/**
 * Most expired reservations reclaimed by one access to a budget. Bounding it bounds the time one Redis script
 * runs; expired reservations beyond it keep counting (failing towards "deny") until later accesses reclaim them.
 */
export const RECLAIM_BATCH = 1000;

export interface BudgetState {
  /** `null` until an admission names the period (a budget first touched by an admin operation). */
  readonly period: BudgetPeriod | null;
  /** Start of the current period; -1 while the period is unknown. */
  readonly periodStartMs: number;
  /** The limit the policy sent with the latest admission. */
  readonly planLimitMicros: number;
  /** An admin override of the policy limit; -1 when none. Survives period changes. */
  readonly limitOverrideMicros: number;
  /** Top-ups in the current period (cleared at the period boundary). */
  readonly creditMicros: number;
  /** Settled spend in the current period. */
  readonly spentMicros: number;
  /** Sum of the reservations that have not been settled, released or reclaimed. */
  readonly reservedMicros: number;
}

export interface BudgetPlan {
  readonly limitMicros: number;
  readonly period: BudgetPeriod;
}

/** A budget nobody has touched yet. */
export function emptyBudget(): BudgetState {
  return {
    period: null,
    periodStartMs: -1,
    planLimitMicros: 0,
    limitOverrideMicros: -1,
    creditMicros: 0,
    spentMicros: 0,
    reservedMicros: 0,
  };
}

/**
 * Adopts the policy's limit and period (when an admission supplies them) and starts a new period when `nowMs`
 * has crossed into one: spend and top-ups restart at zero, reservations carry over (their requests are still
 * running and settle into the new period). A clock that went backwards never reopens an old period.
 */
export function rollBudget(state: BudgetState, plan: BudgetPlan | undefined, nowMs: number): BudgetState {
  const period = plan === undefined ? state.period : plan.period;
  const planLimitMicros = plan === undefined ? state.planLimitMicros : plan.limitMicros;
  if (period === null) return state;
  const currentStartMs = periodStartMs(period, nowMs);
  if (state.periodStartMs === -1) return { ...state, period, planLimitMicros, periodStartMs: currentStartMs };
  if (currentStartMs > state.periodStartMs) {
    return {
      ...state,
      period,
      planLimitMicros,
      periodStartMs: currentStartMs,
      spentMicros: 0,
      creditMicros: 0,
    };
  }
  return { ...state, period, planLimitMicros };
}

/** The limit in force: the admin override or the policy's limit, plus this period's top-ups. */
export function budgetLimitMicros(state: BudgetState): number {
  const base = state.limitOverrideMicros >= 0 ? state.limitOverrideMicros : state.planLimitMicros;
  return base + state.creditMicros;
}

/** Limit minus spend minus reservations; negative after an overspend. */
export function budgetAvailableMicros(state: BudgetState): number {
  return budgetLimitMicros(state) - state.spentMicros - state.reservedMicros;
}

/** When the current period ends; `null` for `total` budgets and budgets whose period is unknown. */
export function budgetResetAtMs(state: BudgetState): number | null {
  if (state.period === null || state.periodStartMs === -1) return null;
  return periodEndMs(state.period, state.periodStartMs);
}

/**
 * Whether `costMicros` can be reserved. When not: retry at the period end, or `null` when waiting cannot help
 * (a `total` budget, or a cost above the whole limit).
 */
export function evaluateBudget(
  state: BudgetState,
  costMicros: number,
  nowMs: number,
): { allowed: boolean; retryAfterMs: number | null } {
  if (costMicros <= budgetAvailableMicros(state)) return { allowed: true, retryAfterMs: 0 };
  const resetAtMs = budgetResetAtMs(state);
  if (resetAtMs === null || costMicros > budgetLimitMicros(state))
    return { allowed: false, retryAfterMs: null };
  return { allowed: false, retryAfterMs: resetAtMs - nowMs };
}

/** The Redis sorted-set member of a reservation: its amount rides along so reclaim needs no second lookup. */
export function reservationMember(amountMicros: number, requestId: string): string {
  return `${String(amountMicros)}:${requestId}`;
}

export interface ReservationEntry {
  readonly member: string;
  readonly amountMicros: number;
  readonly expiresAtMs: number;
}

/**
 * The expired reservations one access reclaims, in Redis sorted-set order (expiry, then member bytes), at
 * most {@link RECLAIM_BATCH}. A reservation is expired when `expiresAtMs <= nowMs`.
 */
export function pickExpiredReservations(
  entries: Iterable<ReservationEntry>,
  nowMs: number,
): ReservationEntry[] {
  const expired: ReservationEntry[] = [];
  for (const entry of entries) if (entry.expiresAtMs <= nowMs) expired.push(entry);
  expired.sort(
    (left, right) =>
      left.expiresAtMs - right.expiresAtMs ||
      Buffer.compare(Buffer.from(left.member), Buffer.from(right.member)),
  );
  return expired.slice(0, RECLAIM_BATCH);
}
