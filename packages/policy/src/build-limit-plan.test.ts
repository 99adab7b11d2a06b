import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildLimitPlan } from './build-limit-plan.js';
import { budget, BudgetPeriod, limitSet } from './limit-set.test-support.js';
import { budgetCheckId, ownerCheckId, type LimitPlan } from './limit-plan.js';
import { compileLimitSet } from './compile-limits.js';
import { limitSetArbitrary } from './parsed-config.test-support.js';

/** The rules of validatePlan in packages/limits/src/limit-plan.ts, which every plan must pass. */
function expectAcceptedByLimitStores(plan: LimitPlan): void {
  expect(plan.partition).toMatch(/^[^{}]+$/);
  const seen = new Set<string>();
  for (const check of plan.checks) {
    expect(check.id).not.toBe('');
    const key = `${check.kind}/${check.id}`;
    expect(seen.has(key), `${key} listed twice`).toBe(false);
    seen.add(key);
    const integers =
      check.kind === 'requests'
        ? [check.ratePerMinute, check.burst]
        : check.kind === 'tokens'
          ? [check.tokensPerMinute, check.burst]
          : check.kind === 'concurrency'
            ? [check.max]
            : [check.limitMicros];
    for (const value of integers) expect(Number.isSafeInteger(value) && value >= 0).toBe(true);
    if (check.kind === 'requests' || check.kind === 'tokens') expect(check.burst).toBeGreaterThanOrEqual(1);
  }
}

describe('buildLimitPlan', () => {
  it('lists rates, then tokens, then budgets, then concurrency, the key before the tenant', () => {
    const plan = buildLimitPlan({
      tenant: {
        id: 'acme',
        limits: limitSet({
          requestsPerMinute: 6000,
          requestBurst: 600,
          tokensPerMinute: 1_000_000,
          tokenBurst: 100_000,
          maxConcurrent: 64,
          budgets: [budget('daily', 50_000_000n), budget('monthly', 1_000_000_000n, BudgetPeriod.MONTH)],
        }),
      },
      key: {
        publicId: 'rk_acme0001',
        limits: limitSet({
          requestsPerMinute: 600,
          requestBurst: 60,
          maxConcurrent: 16,
          budgets: [budget('total', 5n, BudgetPeriod.TOTAL)],
        }),
      },
    });
    expect(plan).toEqual({
      partition: 'acme',
      checks: [
        { kind: 'requests', id: 'key:rk_acme0001', ratePerMinute: 600, burst: 60 },
        { kind: 'requests', id: 'tenant:acme', ratePerMinute: 6000, burst: 600 },
        { kind: 'tokens', id: 'tenant:acme', tokensPerMinute: 1_000_000, burst: 100_000 },
        { kind: 'budget', id: 'key:rk_acme0001:total', limitMicros: 5, period: 'total' },
        { kind: 'budget', id: 'tenant:acme:daily', limitMicros: 50_000_000, period: 'day' },
        { kind: 'budget', id: 'tenant:acme:monthly', limitMicros: 1_000_000_000, period: 'month' },
        { kind: 'concurrency', id: 'key:rk_acme0001', max: 16 },
        { kind: 'concurrency', id: 'tenant:acme', max: 64 },
      ],
    });
    expectAcceptedByLimitStores(plan);
  });

  it('has no checks when neither owner has limits', () => {
    expect(buildLimitPlan({ tenant: { id: 'acme' }, key: { publicId: 'rk_acme0001' } })).toEqual({
      partition: 'acme',
      checks: [],
    });
    expect(
      buildLimitPlan({
        tenant: { id: 'acme', limits: limitSet({}) },
        key: { publicId: 'rk_acme0001', limits: undefined },
      }).checks,
    ).toEqual([]);
  });

  it('names checks after their owners, so key and tenant budgets with one id never collide', () => {
    expect(ownerCheckId({ kind: 'tenant', tenantId: 'acme' })).toBe('tenant:acme');
    expect(ownerCheckId({ kind: 'key', publicId: 'rk_x0001' })).toBe('key:rk_x0001');
    expect(budgetCheckId({ kind: 'key', publicId: 'rk_x0001' }, 'daily')).toBe('key:rk_x0001:daily');
  });

  it('refuses a budget whose period was never validated', () => {
    expect(() =>
      buildLimitPlan({
        tenant: { id: 'acme', limits: limitSet({ budgets: [budget('b', 1n, BudgetPeriod.UNSPECIFIED)] }) },
        key: { publicId: 'rk_acme0001' },
      }),
    ).toThrow(RangeError);
  });

  it('builds plans the limiter stores accept from any valid config', () => {
    fc.assert(
      fc.property(limitSetArbitrary, limitSetArbitrary, (tenantLimits, keyLimits) => {
        const plan = buildLimitPlan({
          tenant: { id: 'acme', limits: compileLimitSet(tenantLimits) },
          key: { publicId: 'rk_acme0001', limits: compileLimitSet(keyLimits) },
        });
        expectAcceptedByLimitStores(plan);
        const budgets = (tenantLimits?.budgets.length ?? 0) + (keyLimits?.budgets.length ?? 0);
        expect(plan.checks.filter((check) => check.kind === 'budget')).toHaveLength(budgets);
      }),
      { numRuns: 300 },
    );
  });
});
