import { LimitStoreUnavailableError } from '@api-router/limits';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AdminChangeLog } from '../audit/admin-change-log.js';
import { budgetChangeIntentEvent, type BudgetChange } from './budget-change-event.js';
import { BudgetChangeReconciler } from './budget-change-reconciler.js';
import {
  NOW_MS,
  SETTINGS,
  budgetHarness,
  logger,
  storeRef,
  type BudgetHarness,
} from './budget-admin.test-support.js';

const disposables: AsyncDisposable[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const disposable of disposables.splice(0)) await disposable[Symbol.asyncDispose]();
});
async function harness(): Promise<BudgetHarness> {
  const started = await budgetHarness();
  disposables.push(started);
  return started;
}

const topUp: BudgetChange = { operation: 'top_up', amountMicros: 300_000 };
const before = {
  limitMicros: 5_000_000n,
  spentMicros: 0n,
  reservedMicros: 0n,
  remainingMicros: 5_000_000n,
  periodResetAtMs: undefined,
  policyLimitAdopted: false,
};

/** What a change call leaves behind when the control plane dies right after storing its intent. */
async function intentOnly(h: BudgetHarness, changeId: string, change: BudgetChange = topUp): Promise<void> {
  const intent = budgetChangeIntentEvent({
    eventId: `intent-${changeId}`,
    changeId,
    atMs: h.clock.now(),
    budget: {
      tenantId: 'acme',
      budgetId: storeRef.id,
      keyPublicId: undefined,
      limitMicros: 5_000_000,
      period: 'day',
    },
    change,
    actor: 'ops-alice',
    reason: 'INC-1',
    before,
  });
  expect((await h.audit.recordIntent(changeId, intent, h.clock.now())).stored).toBe(true);
}

async function outcomeOf(h: BudgetHarness, changeId: string) {
  return (await h.audit.findChange(changeId))?.outcome;
}

async function reconciled(h: BudgetHarness): Promise<string> {
  return (await h.registry.getSingleMetricAsString('router_cp_budget_changes_reconciled_total')).trim();
}

describe('budget change reconciler', () => {
  it('records not_applied for a change that never reached Redis, which then never applies', async () => {
    const h = await harness();
    await intentOnly(h, 'crashed-before');
    h.clock.advance(SETTINGS.graceMs);
    expect(await h.reconciler().reconcileOnce()).toEqual({ examined: 1, recorded: 1, failed: false });

    expect(await outcomeOf(h, 'crashed-before')).toMatchObject({
      requestId: 'intent-crashed-before',
      actor: 'ops-alice',
      actorReason: 'INC-1',
      attributes: {
        phase: 'not_applied',
        outcome_reason: 'abandoned',
        recorded_by: 'reconciler',
        intent_event_id: 'intent-crashed-before',
        change_id: 'crashed-before',
      },
    });
    expect((await outcomeOf(h, 'crashed-before'))?.message).toMatch(/may retry/);
    // A late application of the same change id (a stalled call waking up) changes nothing.
    expect(await h.limits.applyBudgetChange(storeRef, 'crashed-before', topUp)).toEqual({
      status: 'abandoned',
    });
    expect(await h.limits.getBudget(storeRef)).toBeUndefined();
    expect(await reconciled(h)).toMatch(/outcome="not_applied"} 1/);
  });

  it('records applied, with the numbers right after, for a change Redis applied before the crash', async () => {
    const h = await harness();
    await intentOnly(h, 'crashed-after');
    await h.limits.applyBudgetChange(storeRef, 'crashed-after', topUp);
    await h.limits.applyBudgetChange(storeRef, 'later-change', { operation: 'top_up', amountMicros: 1 });
    h.clock.advance(SETTINGS.graceMs);
    await h.reconciler().reconcileOnce();
    expect(await outcomeOf(h, 'crashed-after')).toMatchObject({
      attributes: {
        phase: 'applied',
        recorded_by: 'reconciler',
        before_limit_micros: '5000000',
        after_limit_micros: '300000',
        after_policy_limit_adopted: 'false',
      },
    });
    expect((await h.limits.getBudget(storeRef))?.limitMicros).toBe(300_001);
    expect(await reconciled(h)).toMatch(/outcome="applied"} 1/);
  });

  it('leaves changes younger than the grace period alone, and takes at most maxChangesPerPass', async () => {
    const h = await harness();
    for (const id of ['a', 'b', 'c', 'd', 'e']) {
      await intentOnly(h, id);
      h.clock.advance(1);
    }
    h.clock.advance(SETTINGS.graceMs - 3);
    const reconciler = h.reconciler({ maxChangesPerPass: 2 });
    // Only a, b, c are past the grace period (stored at +0, +1, +2).
    expect(await reconciler.reconcileOnce()).toEqual({ examined: 2, recorded: 2, failed: false });
    expect(await reconciler.reconcileOnce()).toEqual({ examined: 1, recorded: 1, failed: false });
    expect(await reconciler.reconcileOnce()).toEqual({ examined: 0, recorded: 0, failed: false });
    h.clock.advance(2);
    expect(await reconciler.reconcileOnce()).toEqual({ examined: 2, recorded: 2, failed: false });
  });

  it('records unknown for a change older than Redis remembers change ids for', async () => {
    const h = await harness();
    await intentOnly(h, 'ancient');
    await h.limits.applyBudgetChange(storeRef, 'ancient', topUp);
    h.clock.advance(SETTINGS.changeRetentionMs / 2);
    await h.reconciler().reconcileOnce();
    expect(await outcomeOf(h, 'ancient')).toMatchObject({
      attributes: { phase: 'unknown', outcome_reason: 'change_record_expired' },
    });
    expect((await outcomeOf(h, 'ancient'))?.message).toMatch(/read the budget/);
  });

  it('stops a pass when Redis fails, counts it, and settles the change on a later pass', async () => {
    const h = await harness();
    await intentOnly(h, 'waiting');
    h.clock.advance(SETTINGS.graceMs);
    let down = true;
    const reconciler = new BudgetChangeReconciler({
      changeLog: h.audit,
      store: {
        abandonBudgetChange: (...args) =>
          down
            ? Promise.reject(new LimitStoreUnavailableError('abandon', 'connection'))
            : h.limits.abandonBudgetChange(...args),
      },
      clock: h.clock,
      logger,
      metrics: h.metrics,
      settings: SETTINGS,
    });
    expect(await reconciler.reconcileOnce()).toEqual({ examined: 1, recorded: 0, failed: true });
    expect(await outcomeOf(h, 'waiting')).toBeUndefined();
    expect(await h.registry.getSingleMetricAsString('router_cp_budget_reconcile_failures_total')).toMatch(
      / 1\n?$/,
    );
    down = false;
    expect((await reconciler.reconcileOnce()).recorded).toBe(1);
  });

  it('keeps one outcome when two reconcilers (two control planes) settle the same changes at once', async () => {
    const h = await harness();
    for (const id of ['x', 'y', 'z']) await intentOnly(h, id);
    await h.limits.applyBudgetChange(storeRef, 'y', topUp);
    h.clock.advance(SETTINGS.graceMs);
    const passes = await Promise.all([h.reconciler().reconcileOnce(), h.reconciler().reconcileOnce()]);
    expect(passes.reduce((sum, pass) => sum + pass.recorded, 0)).toBe(3);
    const events = await h.events();
    expect(events.filter((event) => event.attributes.phase !== 'intent')).toHaveLength(3);
    expect((await outcomeOf(h, 'y'))?.attributes.phase).toBe('applied');
    expect((await outcomeOf(h, 'x'))?.attributes.phase).toBe('not_applied');
  });

  it('runs a pass at start and then every intervalMs, until closed', async () => {
    vi.useFakeTimers({ now: NOW_MS });
    const calls: number[] = [];
    const changeLog: Pick<AdminChangeLog, 'openChanges' | 'recordOutcome'> = {
      openChanges: (storedAtOrBeforeMs) => {
        calls.push(storedAtOrBeforeMs);
        return Promise.resolve([]);
      },
      recordOutcome: () => Promise.reject(new Error('not called')),
    };
    const h = await harness();
    const reconciler = new BudgetChangeReconciler({
      changeLog,
      store: h.limits,
      clock: { now: () => Date.now() },
      logger,
      metrics: h.metrics,
      settings: { ...SETTINGS, intervalMs: 1000 },
    });
    expect(reconciler.state()).toBe('idle');
    reconciler.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toEqual([NOW_MS - SETTINGS.graceMs]);
    await vi.advanceTimersByTimeAsync(2500);
    expect(calls).toHaveLength(3);
    await reconciler.close();
    expect(reconciler.state()).toBe('closed');
    await vi.advanceTimersByTimeAsync(5000);
    expect(calls).toHaveLength(3);
  });
});
