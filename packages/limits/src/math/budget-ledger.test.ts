import { describe, expect, it } from 'vitest';
import {
  RECLAIM_BATCH,
  budgetAvailableMicros,
  budgetLimitMicros,
  emptyBudget,
  evaluateBudget,
  pickExpiredReservations,
  reservationMember,
  rollBudget,
  type BudgetState,
} from './budget-ledger.js';

const JAN_31 = Date.UTC(2025, 0, 31, 12);
const FEB_1 = Date.UTC(2025, 1, 1);
const monthly = { limitMicros: 1_000_000, period: 'month' } as const;

function spentBudget(overrides: Partial<BudgetState> = {}): BudgetState {
  return {
    ...rollBudget(emptyBudget(), monthly, JAN_31),
    spentMicros: 400_000,
    creditMicros: 50_000,
    ...overrides,
  };
}

describe('rollBudget', () => {
  it('binds a new budget to the current period of the plan', () => {
    const state = rollBudget(emptyBudget(), monthly, JAN_31);
    expect(state).toMatchObject({
      period: 'month',
      periodStartMs: Date.UTC(2025, 0, 1),
      planLimitMicros: 1_000_000,
    });
  });

  it('starts a new period: spend and top-ups restart, reservations carry over', () => {
    const rolled = rollBudget(spentBudget({ reservedMicros: 70_000 }), monthly, FEB_1);
    expect(rolled).toMatchObject({
      periodStartMs: FEB_1,
      spentMicros: 0,
      creditMicros: 0,
      reservedMicros: 70_000,
    });
  });

  it('never reopens an old period when the clock goes backwards', () => {
    const state = rollBudget(spentBudget(), monthly, FEB_1);
    expect(rollBudget(state, monthly, JAN_31)).toEqual(state);
  });

  it('leaves a budget with no known period alone until a plan names it', () => {
    const adminOnly = { ...emptyBudget(), creditMicros: 5 };
    expect(rollBudget(adminOnly, undefined, JAN_31)).toEqual(adminOnly);
    // Binding keeps what the admin did before the first admission.
    expect(rollBudget(adminOnly, monthly, JAN_31)).toMatchObject({
      creditMicros: 5,
      periodStartMs: Date.UTC(2025, 0, 1),
    });
  });
});

describe('limits and evaluation', () => {
  it('the override replaces the plan limit; top-ups add to either', () => {
    expect(budgetLimitMicros(spentBudget())).toBe(1_050_000);
    expect(budgetLimitMicros(spentBudget({ limitOverrideMicros: 0 }))).toBe(50_000);
  });

  it('allows a cost up to what is available, to the micro', () => {
    const state = spentBudget({ reservedMicros: 150_000 });
    expect(budgetAvailableMicros(state)).toBe(500_000);
    expect(evaluateBudget(state, 500_000, JAN_31)).toEqual({ allowed: true, retryAfterMs: 0 });
    expect(evaluateBudget(state, 500_001, JAN_31)).toEqual({ allowed: false, retryAfterMs: FEB_1 - JAN_31 });
  });

  it('says waiting cannot help for total budgets and costs above the whole limit', () => {
    const total = rollBudget(emptyBudget(), { limitMicros: 10, period: 'total' }, JAN_31);
    expect(evaluateBudget({ ...total, spentMicros: 10 }, 1, JAN_31)).toEqual({
      allowed: false,
      retryAfterMs: null,
    });
    expect(evaluateBudget(spentBudget(), 2_000_000, JAN_31)).toEqual({ allowed: false, retryAfterMs: null });
  });
});

describe('pickExpiredReservations', () => {
  it('takes expired entries in sorted-set order (expiry, then member bytes), at most one batch', () => {
    const entries = [
      { member: reservationMember(5, 'b'), amountMicros: 5, expiresAtMs: 10 },
      { member: reservationMember(10, 'a'), amountMicros: 10, expiresAtMs: 10 },
      { member: reservationMember(1, 'z'), amountMicros: 1, expiresAtMs: 5 },
      { member: reservationMember(1, 'live'), amountMicros: 1, expiresAtMs: 11 },
    ];
    expect(pickExpiredReservations(entries, 10).map((entry) => entry.member)).toEqual(['1:z', '10:a', '5:b']);
    const many = Array.from({ length: RECLAIM_BATCH + 5 }, (_, index) => ({
      member: reservationMember(1, String(index)),
      amountMicros: 1,
      expiresAtMs: index,
    }));
    expect(pickExpiredReservations(many, 1e9)).toHaveLength(RECLAIM_BATCH);
  });
});
