import { describe, expect, it } from 'vitest';
import { DuplicateRequestError } from '../duplicate-request-error.js';
import type { LimitCheck, LimitPlan } from '../limit-plan.js';
import type { BudgetChange, BudgetChangeStore } from '../budget-change-store.js';
import type {
  AdmitAllowed,
  AdmitDecision,
  AdmitRequest,
  BudgetSnapshot,
  LimitStore,
} from '../limit-store.js';
import { createMemoryLimitStore } from './memory-limit-store.js';

const T0 = Date.UTC(2025, 0, 31, 23, 0);
const DAY_END = Date.UTC(2025, 1, 1);

function setup(recordRetentionMs = 60_000): {
  store: LimitStore & BudgetChangeStore;
  advance: (ms: number) => void;
} {
  let nowMs = T0;
  const store = createMemoryLimitStore({ clock: { now: () => nowMs }, recordRetentionMs });
  return { store, advance: (ms) => (nowMs += ms) };
}

const rpm: LimitCheck = { kind: 'requests', id: 'rpm', ratePerMinute: 60, burst: 3 };
const tpm: LimitCheck = { kind: 'tokens', id: 'tpm', tokensPerMinute: 6000, burst: 1000 };
const slots: LimitCheck = { kind: 'concurrency', id: 'slots', max: 2 };
const daily: LimitCheck = { kind: 'budget', id: 'daily', limitMicros: 1_000_000, period: 'day' };
const budgetRef = { partition: 'acme', id: 'daily' };

let sequence = 0;
function request(
  checks: LimitCheck[],
  tokens = 100,
  costMicros = 100_000,
  overrides: Partial<AdmitRequest> = {},
): AdmitRequest {
  const plan: LimitPlan = { partition: 'acme', checks };
  return {
    requestId: `req-${String(++sequence)}`,
    plan,
    costs: { tokens, costMicros },
    reservationTtlMs: 30_000,
    ...overrides,
  };
}

function allowed(decision: AdmitDecision): AdmitAllowed {
  if (!decision.allowed) throw new Error(`expected an allowed admission, denied by ${decision.deniedBy.id}`);
  return decision;
}

describe('admit', () => {
  it('reports every check with its numbers after consumption', async () => {
    const { store } = setup();
    const decision = allowed(await store.admit(request([rpm, tpm, slots, daily])));
    expect(decision.checks).toEqual([
      {
        kind: 'requests',
        id: 'rpm',
        allowed: true,
        limit: 60,
        remaining: 2,
        resetAtMs: T0 + 1000,
        retryAfterMs: 0,
      },
      {
        kind: 'tokens',
        id: 'tpm',
        allowed: true,
        limit: 6000,
        remaining: 900,
        resetAtMs: T0 + 1000,
        retryAfterMs: 0,
      },
      {
        kind: 'concurrency',
        id: 'slots',
        allowed: true,
        limit: 2,
        remaining: 1,
        resetAtMs: T0 + 30_000,
        retryAfterMs: 0,
      },
      {
        kind: 'budget',
        id: 'daily',
        allowed: true,
        limit: 1_000_000,
        remaining: 900_000,
        resetAtMs: DAY_END,
        retryAfterMs: 0,
      },
    ]);
    expect(decision.reservation).toMatchObject({
      requestId: decision.reservation.requestId,
      expiresAtMs: T0 + 30_000,
    });
  });

  it('is all-or-nothing: a denying check leaves every other check untouched', async () => {
    const { store } = setup();
    const denied = await store.admit(request([rpm, tpm, daily], 100, 1_000_001));
    expect(denied).toMatchObject({
      allowed: false,
      deniedBy: { kind: 'budget', id: 'daily' },
      retryAfterMs: null,
    });
    const next = allowed(await store.admit(request([rpm, tpm, daily])));
    expect(next.checks.map((check) => check.remaining)).toEqual([2, 900, 900_000]);
  });

  it('names the first denying check and the longest wait among the denying ones', async () => {
    const { store } = setup();
    for (let index = 0; index < 3; index++) allowed(await store.admit(request([rpm, tpm], 300)));
    const denied = await store.admit(request([rpm, tpm], 200));
    // rpm needs one request (1 s at 60/min); tpm needs 100 more tokens (1 s at 6000/min).
    expect(denied).toMatchObject({
      allowed: false,
      deniedBy: { kind: 'requests', id: 'rpm' },
      remaining: 0,
      limit: 60,
    });
    expect(denied.allowed ? undefined : denied.retryAfterMs).toBe(1000);
    expect(denied.checks.map((check) => check.allowed)).toEqual([false, false]);
  });

  it('rejects a reused request id without consuming anything', async () => {
    const { store } = setup();
    const first = request([rpm]);
    allowed(await store.admit(first));
    await expect(store.admit({ ...first })).rejects.toBeInstanceOf(DuplicateRequestError);
    expect(allowed(await store.admit(request([rpm]))).checks[0]?.remaining).toBe(1);
  });

  it('rejects invalid input with a RangeError (as a rejection, never a synchronous throw)', async () => {
    const { store } = setup();
    await expect(store.admit(request([rpm, rpm]))).rejects.toThrow(RangeError);
    await expect(store.admit(request([rpm], -1))).rejects.toThrow(RangeError);
    await expect(store.admit(request([rpm], 1, 1, { reservationTtlMs: 0 }))).rejects.toThrow(RangeError);
    await expect(
      store.admit({ ...request([rpm]), plan: { partition: 'a{b}', checks: [rpm] } }),
    ).rejects.toThrow(RangeError);
  });
});

describe('settle and release', () => {
  it('settle turns the reservation into spend, corrects tokens and frees the slot, once', async () => {
    const { store } = setup();
    const first = allowed(await store.admit(request([tpm, slots, daily], 500, 300_000)));
    expect(await store.getBudget(budgetRef)).toMatchObject({ spentMicros: 0, reservedMicros: 300_000 });
    expect(await store.settle(first.reservation, { tokens: 200, costMicros: 120_000 })).toEqual({
      status: 'settled',
      reservationExpired: false,
    });
    expect(await store.getBudget(budgetRef)).toMatchObject({
      spentMicros: 120_000,
      reservedMicros: 0,
      remainingMicros: 880_000,
    });
    const next = allowed(await store.admit(request([tpm, slots, daily], 0, 0)));
    expect(next.checks.map((check) => check.remaining)).toEqual([800, 1, 880_000]);
    expect(await store.settle(first.reservation, { tokens: 200, costMicros: 120_000 })).toEqual({
      status: 'already-settled',
      reservationExpired: false,
    });
    expect((await store.release(first.reservation)).status).toBe('already-settled');
    expect(await store.getBudget(budgetRef)).toMatchObject({ spentMicros: 120_000 });
  });

  it('charges tokens beyond the estimate as debt that delays the next admission', async () => {
    const { store } = setup();
    const first = allowed(await store.admit(request([tpm], 100)));
    await store.settle(first.reservation, { tokens: 1500, costMicros: 0 });
    const denied = await store.admit(request([tpm], 1));
    // Level is -500 tokens (capped at one bucket of debt: 1000 - 1500); 501 tokens at 100/s take 5010 ms.
    expect(denied).toMatchObject({ allowed: false, retryAfterMs: 5010 });
  });

  it('release returns tokens, slot and money but not the request unit, once', async () => {
    const { store } = setup();
    const first = allowed(await store.admit(request([rpm, tpm, slots, daily], 400, 500_000)));
    expect(await store.release(first.reservation)).toEqual({ status: 'released', reservationExpired: false });
    expect(await store.release(first.reservation)).toEqual({
      status: 'already-released',
      reservationExpired: false,
    });
    expect((await store.settle(first.reservation, { tokens: 1, costMicros: 1 })).status).toBe(
      'already-released',
    );
    const next = allowed(await store.admit(request([rpm, tpm, slots, daily], 0, 0)));
    expect(next.checks.map((check) => check.remaining)).toEqual([1, 1000, 1, 1_000_000]);
  });

  it('reports unknown for a reservation the store never made', async () => {
    const { store } = setup();
    const ghost = {
      requestId: 'ghost',
      partition: 'acme',
      checks: [daily],
      tokens: 0,
      costMicros: 5,
      expiresAtMs: T0,
    };
    expect(await store.settle(ghost, { tokens: 0, costMicros: 5 })).toEqual({
      status: 'unknown',
      reservationExpired: false,
    });
    expect(await store.getBudget(budgetRef)).toBeUndefined();
  });
});

describe('expiry', () => {
  it('reclaims orphaned reservations and leases after their TTL, lazily', async () => {
    const { store, advance } = setup();
    for (let index = 0; index < 2; index++) allowed(await store.admit(request([slots, daily], 0, 400_000)));
    expect(await store.admit(request([slots], 0, 0))).toMatchObject({ allowed: false, retryAfterMs: 1000 });
    advance(30_000);
    expect(await store.getBudget(budgetRef)).toMatchObject({ reservedMicros: 0, remainingMicros: 1_000_000 });
    expect(allowed(await store.admit(request([slots, daily], 0, 1_000_000))).checks[0]?.remaining).toBe(1);
  });

  it('a late settlement still charges the real cost, and the reclaimed amount is not subtracted twice', async () => {
    const { store, advance } = setup();
    const first = allowed(await store.admit(request([daily], 0, 300_000)));
    advance(40_000);
    expect(await store.getBudget(budgetRef)).toMatchObject({ reservedMicros: 0 });
    expect(await store.settle(first.reservation, { tokens: 0, costMicros: 250_000 })).toEqual({
      status: 'settled',
      reservationExpired: true,
    });
    expect(await store.getBudget(budgetRef)).toMatchObject({ spentMicros: 250_000, reservedMicros: 0 });
  });

  it('forgets a request after the retention window: settle says unknown and the id can be reused', async () => {
    const { store, advance } = setup(60_000);
    const first = request([rpm]);
    const decision = allowed(await store.admit(first));
    advance(30_000 + 60_000);
    expect((await store.settle(decision.reservation, { tokens: 0, costMicros: 0 })).status).toBe('unknown');
    expect((await store.admit(first)).allowed).toBe(true);
  });
});

describe('budget periods and admin operations', () => {
  it('a daily budget resets at UTC midnight; a denial says how long until then', async () => {
    const { store, advance } = setup();
    const first = allowed(await store.admit(request([daily], 0, 1_000_000)));
    await store.settle(first.reservation, { tokens: 0, costMicros: 1_000_000 });
    expect(await store.admit(request([daily], 0, 1))).toMatchObject({
      allowed: false,
      retryAfterMs: DAY_END - T0,
    });
    advance(DAY_END - T0);
    expect(await store.getBudget(budgetRef)).toMatchObject({ spentMicros: 0, periodStartMs: DAY_END });
    expect((await store.admit(request([daily], 0, 1))).allowed).toBe(true);
  });

  it('top-up, reset and limit override act on the current period', async () => {
    const { store } = setup();
    let changes = 0;
    const apply = async (change: BudgetChange): Promise<BudgetSnapshot> => {
      const result = await store.applyBudgetChange(budgetRef, `change-${String(++changes)}`, change);
      if (result.status !== 'applied') throw new Error(`change answered ${result.status}`);
      return result.budget;
    };
    expect(await store.getBudget(budgetRef)).toBeUndefined();
    // A top-up before the first admission survives the budget's binding to its period.
    expect(await apply({ operation: 'top_up', amountMicros: 500_000 })).toMatchObject({
      period: null,
      limitMicros: 500_000,
    });
    const first = allowed(await store.admit(request([daily], 0, 1_500_000)));
    await store.settle(first.reservation, { tokens: 0, costMicros: 1_400_000 });
    expect(await store.getBudget(budgetRef)).toEqual({
      period: 'day',
      limitMicros: 1_500_000,
      spentMicros: 1_400_000,
      reservedMicros: 0,
      remainingMicros: 100_000,
      periodStartMs: Date.UTC(2025, 0, 31),
      periodResetAtMs: DAY_END,
    });
    expect(await apply({ operation: 'set_limit', limitMicros: 100 })).toMatchObject({
      limitMicros: 500_100,
      remainingMicros: 0,
    });
    expect(await apply({ operation: 'reset' })).toMatchObject({
      limitMicros: 100,
      spentMicros: 0,
      remainingMicros: 100,
    });
    expect(await apply({ operation: 'set_limit', limitMicros: null })).toMatchObject({
      limitMicros: 1_000_000,
    });
    await expect(apply({ operation: 'top_up', amountMicros: -1 })).rejects.toThrow(RangeError);
  });
});

describe('store clock and record garbage collection', () => {
  it('a partition clock never goes backwards, so a forgotten record stays forgotten', async () => {
    const { store, advance } = setup(60_000);
    const decision = allowed(await store.admit(request([rpm])));
    advance(30_000 + 60_000);
    // Any operation on the partition records its time; the clock then steps back.
    await store.getBudget(budgetRef);
    advance(-50_000);
    expect((await store.settle(decision.reservation, { tokens: 0, costMicros: 0 })).status).toBe('unknown');
    expect((await store.admit(request([rpm]))).decidedAtMs).toBe(T0 + 90_000);
  });

  it('keeps answering correctly while thousands of records are collected', async () => {
    const { store, advance } = setup(1000);
    const reservations = [];
    for (let index = 0; index < 5000; index++) {
      reservations.push(
        allowed(await store.admit(request([], 0, 0, { reservationTtlMs: 1000 }))).reservation,
      );
      advance(1);
    }
    // The first ones are past expiry + retention (2000 ms), the last ones are not.
    expect((await store.release(reservations[0]!)).status).toBe('unknown');
    expect((await store.release(reservations[4999]!)).status).toBe('released');
    expect((await store.release(reservations[4999]!)).status).toBe('already-released');
  });
});
