import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createMemoryLimitStore,
  createRedisLimitStore,
  type BudgetChange,
  type BudgetChangeStore,
  type LimitCheck,
  type LimitStore,
  type Reservation,
} from '../src/index.js';
import { createRedisFixture, type RedisFixture } from './redis-fixture.js';

// Two minutes before month (and day) boundaries, including a year end and a leap February.
const STARTS_MS = [
  Date.UTC(2025, 0, 31, 23, 58),
  Date.UTC(2024, 11, 31, 23, 58),
  Date.UTC(2024, 1, 28, 23, 58),
];
const RETENTION_MS = 10_000;
// Short, so that random clock moves reach past a change id's retention (and a reused id is a new change).
const CHANGE_RETENTION_MS = 30_000;
const CHANGE_IDS = ['c0', 'c1', 'c2'] as const;
const PARTITIONS = ['p1', 'p2'] as const;

// Small limits so that random sequences hit every denial path.
const CHECK_POOL: LimitCheck[] = [
  { kind: 'requests', id: 'rpm', ratePerMinute: 30, burst: 3 },
  { kind: 'tokens', id: 'tpm', tokensPerMinute: 3000, burst: 1500 },
  { kind: 'concurrency', id: 'slots', max: 2 },
  { kind: 'budget', id: 'day', limitMicros: 1_000_000, period: 'day' },
  { kind: 'budget', id: 'month', limitMicros: 2_000_000, period: 'month' },
  { kind: 'budget', id: 'total', limitMicros: 1_500_000, period: 'total' },
];
const BUDGET_IDS = ['day', 'month', 'total', 'admin-only'] as const;

/**
 * The same checks under a second policy (same ids, other limits and periods): admissions alternate between
 * the two as when a new policy arrives while requests admitted under the old one still run and settle.
 */
function underNewPolicy(check: LimitCheck): LimitCheck {
  switch (check.kind) {
    case 'requests':
      return { ...check, ratePerMinute: 6, burst: 5 };
    case 'tokens':
      return { ...check, tokensPerMinute: 60_000, burst: 700 };
    case 'concurrency':
      return { ...check, max: 1 };
    case 'budget':
      return { ...check, limitMicros: 600_000, period: check.period === 'day' ? 'month' : check.period };
  }
}

type Operation =
  | {
      type: 'admit';
      partition: string;
      checks: LimitCheck[];
      tokens: number;
      costMicros: number;
      ttlMs: number;
      reuse: number | null;
    }
  | { type: 'settle'; pick: number; tokens: number; costMicros: number }
  | { type: 'release'; pick: number }
  | { type: 'advance'; ms: number }
  | {
      type: 'budget';
      op: 'get' | 'topup' | 'reset' | 'limit' | 'unlimit';
      partition: string;
      id: string;
      amount: number;
    }
  | {
      type: 'change';
      op: 'topup' | 'reset' | 'limit' | 'unlimit' | 'abandon';
      partition: string;
      id: string;
      changeId: string;
      amount: number;
    };

type Store = LimitStore & BudgetChangeStore;

const partitionArbitrary = fc.constantFrom(...PARTITIONS);
// Round amounts make exact boundaries (cost == available, tokens == level) likely; random ones the rest.
const tokensArbitrary = fc.oneof(fc.constantFrom(0, 100, 500, 1500, 1501), fc.integer({ min: 0, max: 2000 }));
const microsArbitrary = fc.oneof(
  fc.constantFrom(0, 100_000, 250_000, 500_000, 1_000_000),
  fc.integer({ min: 0, max: 800_000 }),
);
const operationArbitrary: fc.Arbitrary<Operation> = fc.oneof(
  {
    arbitrary: fc.record({
      type: fc.constant('admit' as const),
      partition: partitionArbitrary,
      checks: fc
        .tuple(fc.shuffledSubarray(CHECK_POOL, { minLength: 1 }), fc.boolean())
        .map(([checks, newPolicy]) => (newPolicy ? checks.map(underNewPolicy) : checks)),
      tokens: tokensArbitrary,
      costMicros: microsArbitrary,
      ttlMs: fc.constantFrom(500, 5000, 60_000),
      reuse: fc.oneof({ arbitrary: fc.constant(null), weight: 12 }, { arbitrary: fc.nat(), weight: 1 }),
    }),
    weight: 6,
  },
  {
    arbitrary: fc.record({
      type: fc.constant('settle' as const),
      pick: fc.nat(),
      // Beyond estimate + burst, so that the one-bucket debt floor is reached.
      tokens: fc.oneof(tokensArbitrary, fc.integer({ min: 0, max: 6000 })),
      costMicros: microsArbitrary,
    }),
    weight: 3,
  },
  { arbitrary: fc.record({ type: fc.constant('release' as const), pick: fc.nat() }), weight: 2 },
  {
    arbitrary: fc.record({
      type: fc.constant('advance' as const),
      ms: fc.oneof(
        // Exactly a TTL or the retention: expiry happens at `expiresAtMs <= now`, a boundary worth hitting.
        fc.constantFrom(500, 5000, 60_000, RETENTION_MS, CHANGE_RETENTION_MS),
        fc.integer({ min: 0, max: 2000 }),
        fc.integer({ min: 0, max: 120_000 }),
        fc.integer({ min: 0, max: 3 * 86_400_000 }),
        fc.integer({ min: -5000, max: 0 }),
      ),
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({
      type: fc.constant('budget' as const),
      op: fc.constantFrom(
        'get' as const,
        'topup' as const,
        'reset' as const,
        'limit' as const,
        'unlimit' as const,
      ),
      partition: partitionArbitrary,
      id: fc.constantFrom(...BUDGET_IDS),
      amount: microsArbitrary,
    }),
    weight: 1,
  },
  {
    // Few change ids and budgets: replays, conflicts (same id, other change) and abandons are frequent.
    arbitrary: fc.record({
      type: fc.constant('change' as const),
      op: fc.constantFrom(
        'topup' as const,
        'reset' as const,
        'limit' as const,
        'unlimit' as const,
        'abandon' as const,
      ),
      partition: partitionArbitrary,
      id: fc.constantFrom('day', 'admin-only'),
      changeId: fc.constantFrom(...CHANGE_IDS),
      amount: fc.constantFrom(100_000, 250_000),
    }),
    weight: 2,
  },
);

/** A store's answer, or the name of the error it rejected with: what the two stores must agree on. */
async function outcome(call: () => Promise<unknown>): Promise<unknown> {
  try {
    return { value: await call() };
  } catch (error: unknown) {
    return { error: error instanceof Error ? error.name : String(error) };
  }
}

interface Run {
  readonly stores: readonly [Store, Store];
  readonly reservations: Reservation[];
  readonly requestIds: string[];
  /** Counter of the change ids of the 'budget' operations (each used once). */
  onceChangeIds: number;
  advance(ms: number): void;
}

function step(run: Run, operation: Operation): ((store: Store) => Promise<unknown>) | undefined {
  switch (operation.type) {
    case 'admit': {
      const reused =
        operation.reuse === null
          ? undefined
          : run.requestIds[operation.reuse % Math.max(1, run.requestIds.length)];
      const requestId = reused ?? `r${String(run.requestIds.length)}`;
      if (reused === undefined) run.requestIds.push(requestId);
      const request = {
        requestId,
        plan: { partition: operation.partition, checks: operation.checks },
        costs: { tokens: operation.tokens, costMicros: operation.costMicros },
        reservationTtlMs: operation.ttlMs,
      };
      return (store) => store.admit(request);
    }
    case 'settle':
    case 'release': {
      const reservation = run.reservations[operation.pick % Math.max(1, run.reservations.length)];
      if (reservation === undefined) return undefined;
      if (operation.type === 'release') return (store) => store.release(reservation);
      return (store) =>
        store.settle(reservation, { tokens: operation.tokens, costMicros: operation.costMicros });
    }
    case 'advance':
      run.advance(operation.ms);
      return undefined;
    case 'budget': {
      const ref = { partition: operation.partition, id: operation.id };
      if (operation.op === 'get') return (store) => store.getBudget(ref);
      // Any amount, each under a change id of its own (never replayed): the budget math, not the ids.
      const changeId = `once-${String(run.onceChangeIds++)}`;
      const change: BudgetChange =
        operation.op === 'topup'
          ? { operation: 'top_up', amountMicros: operation.amount }
          : operation.op === 'reset'
            ? { operation: 'reset' }
            : { operation: 'set_limit', limitMicros: operation.op === 'limit' ? operation.amount : null };
      return (store) => store.applyBudgetChange(ref, changeId, change);
    }
    case 'change': {
      const ref = { partition: operation.partition, id: operation.id };
      const changes: Record<Exclude<typeof operation.op, 'abandon'>, BudgetChange> = {
        topup: { operation: 'top_up', amountMicros: operation.amount },
        reset: { operation: 'reset' },
        limit: { operation: 'set_limit', limitMicros: operation.amount },
        unlimit: { operation: 'set_limit', limitMicros: null },
      };
      if (operation.op === 'abandon') return (store) => store.abandonBudgetChange(ref, operation.changeId);
      const change = changes[operation.op];
      return (store) => store.applyBudgetChange(ref, operation.changeId, change);
    }
  }
}

describe('memory and Redis stores give identical answers', () => {
  let fixture: RedisFixture;
  let redis: Redis;
  let runCount = 0;

  beforeAll(() => {
    fixture = createRedisFixture('differential');
    redis = fixture.connect();
  });
  afterAll(async () => {
    await fixture.cleanup();
  });

  it('for random sequences of admit (under two policies) / settle / release / clock moves / budget admin / budget changes by id', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...STARTS_MS),
        fc.array(operationArbitrary, { minLength: 1, maxLength: 80, size: 'max' }),
        async (startMs, operations) => {
          let nowMs = startMs;
          const clock = { now: () => nowMs };
          const keyPrefix = `${fixture.keyPrefix}${String(runCount++)}:`;
          const run: Run = {
            stores: [
              createMemoryLimitStore({
                clock,
                recordRetentionMs: RETENTION_MS,
                budgetChangeRetentionMs: CHANGE_RETENTION_MS,
              }),
              createRedisLimitStore({
                redis,
                keyPrefix,
                clock,
                commandTimeoutMs: 5000,
                recordRetentionMs: RETENTION_MS,
                budgetChangeRetentionMs: CHANGE_RETENTION_MS,
              }),
            ],
            reservations: [],
            requestIds: [],
            onceChangeIds: 0,
            advance: (ms) => (nowMs = Math.max(0, nowMs + ms)),
          };
          for (const [index, operation] of operations.entries()) {
            const call = step(run, operation);
            if (call === undefined) continue;
            const expected = await outcome(() => call(run.stores[0]));
            const actual = await outcome(() => call(run.stores[1]));
            expect(actual, `step ${String(index)}: ${JSON.stringify(operation)}`).toEqual(expected);
            const value = (expected as { value?: { allowed?: boolean; reservation?: Reservation } }).value;
            if (value?.allowed === true && value.reservation !== undefined)
              run.reservations.push(value.reservation);
          }
          for (const partition of PARTITIONS) {
            for (const id of BUDGET_IDS) {
              const ref = { partition, id };
              expect(await run.stores[1].getBudget(ref), `${partition}/${id}`).toEqual(
                await run.stores[0].getBudget(ref),
              );
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
