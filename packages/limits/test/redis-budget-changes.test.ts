import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  BudgetChangeConflictError,
  DEFAULT_BUDGET_CHANGE_RETENTION_MS,
  createRedisLimitStore,
} from '../src/index.js';
import { createLimitScripts } from '../src/redis/limit-scripts.js';
import { createRedisFixture, type RedisFixture } from './redis-fixture.js';

// Budget changes by change id on the real Redis: at most once per id (also with concurrent callers on
// separate connections), abandon as a fence against a late application, and a marker that Redis keeps for
// the retention. (Parity with the memory store: the differential test.)

const T0 = Date.UTC(2025, 5, 15, 12);
const ref = { partition: 'tenant-a', id: 'tenant:tenant-a:daily' };
const topUp = { operation: 'top_up', amountMicros: 250_000 } as const;

let fixture: RedisFixture;
beforeEach(() => {
  fixture = createRedisFixture('budget-changes');
});
afterEach(async () => {
  await fixture.cleanup();
});

function store(options: { clock?: { now(): number }; budgetChangeRetentionMs?: number } = {}) {
  return createRedisLimitStore({
    redis: fixture.connect(),
    keyPrefix: fixture.keyPrefix,
    commandTimeoutMs: 10_000,
    ...options,
  });
}

describe('Redis store: budget changes by change id', () => {
  it('applies a change id once even when 20 callers on 4 connections send it together', async () => {
    const stores = [store(), store(), store(), store()];
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, index) => stores[index % 4]!.applyBudgetChange(ref, 'once', topUp)),
    );
    expect(results.filter((result) => result.status === 'applied')).toHaveLength(1);
    expect(results.filter((result) => result.status === 'already-applied')).toHaveLength(19);
    // Every replay reports the numbers right after the one application.
    const budgets = new Set(
      results.map((result) => JSON.stringify(result.status !== 'abandoned' && result.budget)),
    );
    expect(budgets.size).toBe(1);
    expect(await stores[0]!.getBudget(ref)).toMatchObject({ limitMicros: 250_000, spentMicros: 0 });
  });

  it('abandon fences a change id: an application arriving later changes nothing', async () => {
    const redisStore = store();
    expect(await redisStore.abandonBudgetChange(ref, 'late')).toEqual({ status: 'abandoned' });
    expect(await redisStore.applyBudgetChange(ref, 'late', topUp)).toEqual({ status: 'abandoned' });
    expect(await redisStore.getBudget(ref)).toBeUndefined();

    const applied = await redisStore.applyBudgetChange(ref, 'early', { operation: 'reset' });
    expect(applied.status).toBe('applied');
    expect(await redisStore.abandonBudgetChange(ref, 'early')).toEqual({
      status: 'already-applied',
      budget: applied.status === 'applied' && applied.budget,
    });
  });

  it('refuses a change id reused for another change or budget, without changing anything', async () => {
    const redisStore = store();
    await redisStore.applyBudgetChange(ref, 'taken', { operation: 'set_limit', limitMicros: 9 });
    await expect(
      redisStore.applyBudgetChange(ref, 'taken', { operation: 'set_limit', limitMicros: null }),
    ).rejects.toThrow(BudgetChangeConflictError);
    await expect(
      redisStore.applyBudgetChange({ ...ref, id: 'tenant:tenant-a:monthly' }, 'taken', topUp),
    ).rejects.toThrow(BudgetChangeConflictError);
    expect((await redisStore.getBudget(ref))?.limitMicros).toBe(9);
    expect(await redisStore.getBudget({ ...ref, id: 'tenant:tenant-a:monthly' })).toBeUndefined();
  });

  it('keeps the marker for the retention (Redis TIME), under the partition hash tag', async () => {
    const redisStore = store();
    await redisStore.applyBudgetChange(ref, 'kept', topUp);
    const redis = fixture.connect();
    const key = `${fixture.keyPrefix}{tenant-a}:bx:kept`;
    expect(await redis.hget(key, 's')).toBe('a');
    const ttlMs = await redis.pttl(key);
    expect(ttlMs).toBeGreaterThan(DEFAULT_BUDGET_CHANGE_RETENTION_MS);
  });

  it('forgets a change id after its retention by the store clock', async () => {
    let nowMs = T0;
    const redisStore = store({ clock: { now: () => nowMs }, budgetChangeRetentionMs: 60_000 });
    await redisStore.applyBudgetChange(ref, 'expiring', topUp);
    nowMs += 59_999;
    expect((await redisStore.applyBudgetChange(ref, 'expiring', topUp)).status).toBe('already-applied');
    nowMs += 1;
    expect((await redisStore.applyBudgetChange(ref, 'expiring', topUp)).status).toBe('applied');
    expect((await redisStore.getBudget(ref))?.limitMicros).toBe(500_000);
  });

  it('refuses, before any call, a budget change without a change id (or a read with one)', async () => {
    const scripts = createLimitScripts({
      redis: fixture.connect(),
      keyPrefix: fixture.keyPrefix,
      commandTimeoutMs: 10_000,
      clock: undefined,
      retentionMs: 60_000,
      changeRetentionMs: DEFAULT_BUDGET_CHANGE_RETENTION_MS,
    });
    for (const operation of ['topup', 'reset', 'limit', 'abandon'] as const) {
      await expect(scripts.budget(ref, operation, 1, '')).rejects.toThrow(RangeError);
    }
    await expect(scripts.budget(ref, 'get', 0, 'an-id')).rejects.toThrow(RangeError);
    expect(await scripts.budget(ref, 'get', 0, '')).toEqual({ status: 'missing' });
  });
});
