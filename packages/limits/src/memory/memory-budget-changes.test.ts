import { describe, expect, it } from 'vitest';
import { BudgetChangeConflictError } from '../budget-change-conflict-error.js';
import { createMemoryLimitStore } from './memory-limit-store.js';

const T0 = Date.UTC(2025, 5, 10, 12);
const ref = { partition: 'acme', id: 'tenant:acme:daily' };
const topUp = { operation: 'top_up', amountMicros: 1_000 } as const;

function setup(budgetChangeRetentionMs = 60_000) {
  let nowMs = T0;
  const store = createMemoryLimitStore({ clock: { now: () => nowMs }, budgetChangeRetentionMs });
  return { store, advance: (ms: number) => (nowMs += ms) };
}

describe('budget changes by change id (memory store)', () => {
  it('applies a change id once; a replay answers already-applied with the numbers of the first time', async () => {
    const { store } = setup();
    const first = await store.applyBudgetChange(ref, 'change-1', topUp);
    expect(first).toMatchObject({ status: 'applied', budget: { limitMicros: 1_000 } });
    await store.applyBudgetChange(ref, 'change-other', { operation: 'top_up', amountMicros: 5 });
    const again = await store.applyBudgetChange(ref, 'change-1', topUp);
    expect(again).toEqual({ status: 'already-applied', budget: first.status === 'applied' && first.budget });
    expect((await store.getBudget(ref))?.limitMicros).toBe(1_005);
    expect(await store.abandonBudgetChange(ref, 'change-1')).toEqual(again);
  });

  it('an abandoned change id never applies, and abandoning is idempotent', async () => {
    const { store } = setup();
    expect(await store.abandonBudgetChange(ref, 'change-2')).toEqual({ status: 'abandoned' });
    expect(await store.getBudget(ref)).toBeUndefined();
    expect(await store.applyBudgetChange(ref, 'change-2', topUp)).toEqual({ status: 'abandoned' });
    expect(await store.abandonBudgetChange(ref, 'change-2')).toEqual({ status: 'abandoned' });
    expect(await store.getBudget(ref)).toBeUndefined();
  });

  it('refuses a change id reused for another change or another budget', async () => {
    const { store } = setup();
    await store.applyBudgetChange(ref, 'change-3', topUp);
    const other = { operation: 'top_up', amountMicros: 2_000 } as const;
    await expect(store.applyBudgetChange(ref, 'change-3', other)).rejects.toThrow(BudgetChangeConflictError);
    await expect(store.applyBudgetChange(ref, 'change-3', { operation: 'reset' })).rejects.toThrow(
      BudgetChangeConflictError,
    );
    const elsewhere = { partition: 'acme', id: 'tenant:acme:monthly' };
    await expect(store.applyBudgetChange(elsewhere, 'change-3', topUp)).rejects.toThrow(
      BudgetChangeConflictError,
    );
    await expect(store.abandonBudgetChange(elsewhere, 'change-3')).rejects.toThrow(BudgetChangeConflictError);
    expect((await store.getBudget(ref))?.limitMicros).toBe(1_000);
  });

  it('forgets a change id after its retention: the same id is then a new change', async () => {
    const { store, advance } = setup(60_000);
    await store.applyBudgetChange(ref, 'change-4', topUp);
    advance(59_999);
    expect((await store.applyBudgetChange(ref, 'change-4', topUp)).status).toBe('already-applied');
    advance(1);
    expect((await store.applyBudgetChange(ref, 'change-4', topUp)).status).toBe('applied');
    expect((await store.getBudget(ref))?.limitMicros).toBe(2_000);
  });

  it('validates its input before touching anything', async () => {
    const { store } = setup();
    await expect(store.applyBudgetChange(ref, '', topUp)).rejects.toThrow(RangeError);
    await expect(store.applyBudgetChange(ref, 'x'.repeat(201), topUp)).rejects.toThrow(RangeError);
    await expect(
      store.applyBudgetChange(ref, 'c', { operation: 'top_up', amountMicros: -1 }),
    ).rejects.toThrow(RangeError);
    await expect(
      store.applyBudgetChange(ref, 'c', { operation: 'set_limit', limitMicros: 1.5 }),
    ).rejects.toThrow(RangeError);
    await expect(store.abandonBudgetChange({ partition: '', id: 'x' }, 'c')).rejects.toThrow(RangeError);
    expect(() => createMemoryLimitStore({ clock: { now: () => T0 }, budgetChangeRetentionMs: 0 })).toThrow(
      RangeError,
    );
    expect(await store.getBudget(ref)).toBeUndefined();
  });
});
