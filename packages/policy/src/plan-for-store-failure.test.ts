import { create } from '@bufbuild/protobuf';
import { StoreFailurePolicySchema } from '@api-router/contracts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { budget, BudgetFailureMode, limitSet, RateLimitFailureMode } from './limit-set.test-support.js';
import { localShareOf, planForStoreFailure } from './plan-for-store-failure.js';

const failOpen = (localSharePpm: number, budgets = BudgetFailureMode.FAIL_CLOSED) =>
  create(StoreFailurePolicySchema, {
    rateLimits: RateLimitFailureMode.FAIL_OPEN_LOCAL_SHARE,
    localSharePpm,
    budgets,
  });

describe('planForStoreFailure', () => {
  it('scales every rate, burst and concurrency limit to the owner share and drops fail-open budgets', () => {
    const decision = planForStoreFailure({
      tenant: {
        id: 'acme',
        limits: limitSet({
          requestsPerMinute: 6000,
          requestBurst: 600,
          budgets: [budget('daily', 1n)],
          onStoreFailure: failOpen(100_000, BudgetFailureMode.FAIL_OPEN),
        }),
      },
      key: {
        publicId: 'rk_acme0001',
        limits: limitSet({
          requestsPerMinute: 600,
          requestBurst: 1,
          tokensPerMinute: 200_000,
          tokenBurst: 50_000,
          maxConcurrent: 3,
          onStoreFailure: failOpen(250_000),
        }),
      },
    });
    expect(decision).toEqual({
      kind: 'local',
      plan: {
        partition: 'acme',
        checks: [
          { kind: 'requests', id: 'key:rk_acme0001', ratePerMinute: 150, burst: 1 },
          { kind: 'requests', id: 'tenant:acme', ratePerMinute: 600, burst: 60 },
          { kind: 'tokens', id: 'key:rk_acme0001', tokensPerMinute: 50_000, burst: 12_500 },
          { kind: 'concurrency', id: 'key:rk_acme0001', max: 1 },
        ],
      },
      uncheckedBudgetIds: ['tenant:acme:daily'],
    });
  });

  it('uses half of each limit when the share or the whole policy is unset', () => {
    const decision = planForStoreFailure({
      tenant: { id: 'acme', limits: limitSet({ maxConcurrent: 10 }) },
      key: { publicId: 'rk_acme0001', limits: limitSet({ maxConcurrent: 7, onStoreFailure: failOpen(0) }) },
    });
    expect(decision.kind === 'local' ? decision.plan.checks : []).toEqual([
      { kind: 'concurrency', id: 'key:rk_acme0001', max: 3 },
      { kind: 'concurrency', id: 'tenant:acme', max: 5 },
    ]);
  });

  it('rejects when an owner with rate limits fails closed', () => {
    const closed = create(StoreFailurePolicySchema, { rateLimits: RateLimitFailureMode.FAIL_CLOSED });
    expect(
      planForStoreFailure({
        tenant: { id: 'acme', limits: limitSet({ maxConcurrent: 1, onStoreFailure: closed }) },
        key: { publicId: 'rk_acme0001', limits: limitSet({ maxConcurrent: 1 }) },
      }),
    ).toEqual({ kind: 'reject', reason: 'rate-limits-fail-closed', checkId: 'tenant:acme' });
    // Failing closed matters only when the owner has rate limits.
    expect(
      planForStoreFailure({
        tenant: { id: 'acme', limits: limitSet({ onStoreFailure: closed }) },
        key: { publicId: 'rk_acme0001' },
      }).kind,
    ).toBe('local');
  });

  it('rejects budgets unless they explicitly fail open (unset means fail closed)', () => {
    for (const limits of [
      limitSet({ budgets: [budget('daily', 1n)] }),
      limitSet({
        budgets: [budget('daily', 1n)],
        onStoreFailure: failOpen(1, BudgetFailureMode.UNSPECIFIED),
      }),
      limitSet({
        budgets: [budget('daily', 1n)],
        onStoreFailure: failOpen(1, BudgetFailureMode.FAIL_CLOSED),
      }),
    ]) {
      expect(
        planForStoreFailure({ tenant: { id: 'acme' }, key: { publicId: 'rk_acme0001', limits } }),
      ).toEqual({
        kind: 'reject',
        reason: 'budgets-fail-closed',
        checkId: 'key:rk_acme0001:daily',
      });
    }
  });
});

describe('localShareOf', () => {
  it('rounds down, never below 1, never above the limit', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4_294_967_295 }),
        fc.integer({ min: 1, max: 1_000_000 }),
        (limit, share) => {
          const local = localShareOf(limit, share);
          expect(Number.isSafeInteger(local)).toBe(true);
          expect(local).toBeGreaterThanOrEqual(1);
          expect(local).toBeLessThanOrEqual(limit);
          expect(BigInt(local)).toBe(
            BigInt(Math.max(1, Number((BigInt(limit) * BigInt(share)) / 1_000_000n))),
          );
        },
      ),
    );
  });
});
