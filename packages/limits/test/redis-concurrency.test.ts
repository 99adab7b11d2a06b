import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createRedisLimitStore,
  type AdmitDecision,
  type LimitCheck,
  type LimitStore,
  type Reservation,
} from '../src/index.js';
import { createRedisFixture, type RedisFixture } from './redis-fixture.js';

// Production path: no clock override, so every script reads Redis TIME. Two clients stand for two replicas.

let fixture: RedisFixture;
let replicas: [LimitStore, LimitStore];

beforeEach(() => {
  fixture = createRedisFixture('concurrency');
  const store = (): LimitStore =>
    createRedisLimitStore({
      redis: fixture.connect(),
      keyPrefix: fixture.keyPrefix,
      commandTimeoutMs: 10_000,
    });
  replicas = [store(), store()];
});
afterEach(async () => {
  await fixture.cleanup();
});

async function admitConcurrently(
  count: number,
  checks: LimitCheck[],
  costs: { tokens: number; costMicros: number },
  idPrefix = 'request',
): Promise<AdmitDecision[]> {
  return Promise.all(
    Array.from({ length: count }, (_, index) =>
      replicas[index % 2]!.admit({
        requestId: `${idPrefix}-${String(index)}`,
        plan: { partition: 'tenant-a', checks },
        costs,
        reservationTtlMs: 60_000,
      }),
    ),
  );
}

function reservations(decisions: AdmitDecision[]): Reservation[] {
  return decisions.flatMap((decision) => (decision.allowed ? [decision.reservation] : []));
}

describe('Redis store under concurrent admissions from two clients', () => {
  it('a 1.00 budget admits at most ten requests of max cost 0.10, and settles to at most 1.00', async () => {
    const budget: LimitCheck = { kind: 'budget', id: 'wallet', limitMicros: 1_000_000, period: 'total' };
    const decisions = await admitConcurrently(200, [budget], { tokens: 0, costMicros: 100_000 });
    const allowed = reservations(decisions);
    expect(allowed.length).toBeLessThanOrEqual(10);
    // Nothing else competes for the budget, so exactly ten fit.
    expect(allowed).toHaveLength(10);
    expect(
      decisions
        .filter((decision) => !decision.allowed)
        .every((decision) => decision.deniedBy.id === 'wallet'),
    ).toBe(true);

    // Settle on the other replica than the one that admitted, with real costs up to the reservation.
    const outcomes = await Promise.all(
      allowed.map((reservation, index) =>
        replicas[(index + 1) % 2]!.settle(reservation, { tokens: 0, costMicros: 100_000 - index * 7_919 }),
      ),
    );
    expect(outcomes.every((outcome) => outcome.status === 'settled')).toBe(true);
    const snapshot = await replicas[0].getBudget({ partition: 'tenant-a', id: 'wallet' });
    expect(snapshot?.spentMicros).toBeLessThanOrEqual(1_000_000);
    expect(snapshot).toMatchObject({ reservedMicros: 0, spentMicros: 1_000_000 - 7_919 * 45 });
  });

  it('request and token buckets never admit more than burst + one minute of rate', async () => {
    const requests: LimitCheck = { kind: 'requests', id: 'rpm', ratePerMinute: 1, burst: 10 };
    const tokens: LimitCheck = { kind: 'tokens', id: 'tpm', tokensPerMinute: 100, burst: 2_000 };
    // The test takes far less than a minute, so at most burst + rate may pass each bucket.
    expect(
      reservations(await admitConcurrently(200, [requests], { tokens: 0, costMicros: 0 })).length,
    ).toBeLessThanOrEqual(11);
    const byTokens = reservations(
      await admitConcurrently(200, [tokens], { tokens: 100, costMicros: 0 }, 'tokens'),
    );
    expect(byTokens.length).toBeLessThanOrEqual((2_000 + 100) / 100);
    expect(byTokens.length).toBeGreaterThanOrEqual(20);
  });

  it('concurrency slots admit exactly max, and a settled slot is free again', async () => {
    const slots: LimitCheck = { kind: 'concurrency', id: 'slots', max: 5 };
    const allowed = reservations(await admitConcurrently(100, [slots], { tokens: 0, costMicros: 0 }));
    expect(allowed).toHaveLength(5);
    await replicas[1].release(allowed[0]!);
    const again = await replicas[0].admit({
      requestId: 'after-release',
      plan: { partition: 'tenant-a', checks: [slots] },
      costs: { tokens: 0, costMicros: 0 },
      reservationTtlMs: 60_000,
    });
    expect(again.allowed).toBe(true);
  });

  it('all-or-nothing holds across checks under contention: no check is charged for a denied admission', async () => {
    const slots: LimitCheck = { kind: 'concurrency', id: 'slots', max: 3 };
    const budget: LimitCheck = { kind: 'budget', id: 'wallet', limitMicros: 10_000_000, period: 'total' };
    const allowed = reservations(
      await admitConcurrently(60, [budget, slots], { tokens: 0, costMicros: 100_000 }),
    );
    expect(allowed).toHaveLength(3);
    const snapshot = await replicas[0].getBudget({ partition: 'tenant-a', id: 'wallet' });
    expect(snapshot?.reservedMicros).toBe(300_000);
  });
});
