import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MAX_MICROS,
  createMemoryLimitStore,
  createRedisLimitStore,
  type BudgetChangeStore,
  type LimitStore,
} from '../src/index.js';
import { createRedisFixture, type RedisFixture } from './redis-fixture.js';

// Each top-up is at most MAX_MICROS, but nothing bounded their sum: ten of them took a budget's credit past
// 2^53, where micro-units stop being exact (in Lua's doubles and in JavaScript). The credit is capped at
// MAX_MICROS, so every budget number stays below 2 × 10^15. Both stores.
let fixture: RedisFixture;
beforeAll(() => {
  fixture = createRedisFixture('credit-bound');
});
afterAll(async () => {
  await fixture.cleanup();
});

const stores: Record<string, () => LimitStore & BudgetChangeStore> = {
  memory: () => createMemoryLimitStore({ clock: { now: () => Date.UTC(2026, 10, 29) } }),
  redis: () =>
    createRedisLimitStore({
      redis: fixture.connect(),
      keyPrefix: fixture.keyPrefix,
      commandTimeoutMs: 10_000,
    }),
};

describe.each(Object.keys(stores))('%s store: top-ups', (name) => {
  it('cap a budget credit at MAX_MICROS, so its numbers stay exact', async () => {
    const store = stores[name]!();
    const ref = { partition: 'acme', id: 'tenant:acme:total' };
    let last;
    for (let index = 0; index < 10; index += 1) {
      last = await store.applyBudgetChange(ref, `top-up-${String(index)}`, {
        operation: 'top_up',
        amountMicros: MAX_MICROS,
      });
    }
    expect(last?.status).toBe('applied');
    const budget = await store.getBudget(ref);
    expect(budget?.limitMicros).toBe(MAX_MICROS);
    expect(budget?.remainingMicros).toBe(MAX_MICROS);
    expect(Number.isSafeInteger(budget?.limitMicros)).toBe(true);
  });
});
