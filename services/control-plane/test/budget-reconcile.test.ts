import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Code } from '@connectrpc/connect';
import { createRedisLimitStore, type BudgetChangeStore, type LimitStore } from '@api-router/limits';
import { testServices } from '@api-router/testing';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { AdminChangeLog } from '../src/audit/admin-change-log.js';
import type { AuditStore } from '../src/audit/audit-store.js';
import { openSqliteAuditStore } from '../src/audit/sqlite-audit-store.js';
import {
  SETTINGS,
  budgetHarness,
  codeOf,
  operatorWithKey,
  ref,
  storeRef,
  type BudgetHarness,
} from '../src/budget/budget-admin.test-support.js';
import { createDatabaseFixture } from './postgres-database-fixture.js';

// The intent → apply → outcome gap closed, against the real Redis and both real audit stores: a control
// plane "dies" (its Redis call throws like a crash: the call stops, nothing after it runs) right after
// storing a change's intent, before or after Redis applied it; the reconciler then records the one true
// outcome, also with two control planes reconciling at once, and never applies a change itself. A call
// repeated with the same Idempotency-Key never applies its change twice.

type Store = LimitStore & BudgetChangeStore;

interface AuditBackend extends AsyncDisposable {
  /** A new connection (pool) to the same database, as another control plane would open. */
  open(): Promise<AuditStore & AdminChangeLog>;
}

const BACKENDS: [string, () => Promise<AuditBackend>][] = [
  [
    'SQLite',
    async () => {
      const directory = await mkdtemp(join(tmpdir(), 'budget-reconcile-'));
      return {
        open: () => openSqliteAuditStore({ path: join(directory, 'audit.sqlite') }),
        [Symbol.asyncDispose]: () => rm(directory, { recursive: true, force: true }),
      };
    },
  ],
  ['Postgres', createDatabaseFixture],
];

const topUp = { ...ref, amountMicros: 400_000n, reason: 'INC-77 prepaid' };
const died = () => new Error('control plane died');

describe.each(BACKENDS)('budget change reconciliation with Redis and %s', (_name, createBackend) => {
  const cleanups: (() => PromiseLike<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** Stores on the real Redis under a prefix of their own (each call: a new client, as another replica). */
  function redisStores() {
    const prefix = `it-reconcile-${randomUUID().slice(0, 8)}:`;
    const clients: Redis[] = [];
    cleanups.push(async () => {
      const keys = await clients[0]!.keys(`${prefix}*`);
      if (keys.length > 0) await clients[0]!.del(...keys);
      await Promise.all(clients.map((client) => client.quit()));
    });
    return (): Store => {
      const redis = new Redis(testServices().REDIS_URL, { maxRetriesPerRequest: 1 });
      clients.push(redis);
      return createRedisLimitStore({
        redis,
        keyPrefix: prefix,
        commandTimeoutMs: 5000,
        budgetChangeRetentionMs: SETTINGS.changeRetentionMs,
      });
    };
  }

  /** Admin handlers over the real stores whose Redis change "crashes" as `crash.at` says. */
  async function setUp() {
    const backend = await createBackend();
    cleanups.push(() => backend[Symbol.asyncDispose]());
    const newStore = redisStores();
    const redis = newStore();
    const crash: { at: 'none' | 'before-redis' | 'after-redis' } = { at: 'none' };
    const h: BudgetHarness = await budgetHarness({
      limits: redis,
      audit: () => backend.open(),
      store: (limits) => ({
        ...limits,
        async applyBudgetChange(...args) {
          if (crash.at === 'before-redis') throw died();
          const result = await limits.applyBudgetChange(...args);
          if (crash.at === 'after-redis') throw died();
          return result;
        },
      }),
    });
    cleanups.push(() => h[Symbol.asyncDispose]());
    return { h, redis, crash, backend, newStore };
  }

  async function outcomes(h: BudgetHarness, changeId: string) {
    const change = await h.audit.findChange(changeId);
    const events = await h.audit.eventsForRequest(change!.intent.eventId);
    return events.filter((event) => event.attributes.phase !== 'intent');
  }

  it('crash before the Redis change: the reconciler records not_applied, and the change never applies', async () => {
    const { h, redis, crash } = await setUp();
    crash.at = 'before-redis';
    expect(await codeOf(h.admin.topUpBudget(topUp, operatorWithKey('before-1')))).toBe(Code.Internal);
    expect(await h.audit.openChanges(h.clock.now(), 10)).toHaveLength(1);

    // Not yet: the grace period protects calls still running.
    expect((await h.reconciler().reconcileOnce()).examined).toBe(0);
    h.clock.advance(SETTINGS.graceMs);
    expect(await h.reconciler().reconcileOnce()).toEqual({ examined: 1, recorded: 1, failed: false });

    const [outcome] = await outcomes(h, 'before-1');
    expect(outcome?.attributes).toMatchObject({
      phase: 'not_applied',
      outcome_reason: 'abandoned',
      recorded_by: 'reconciler',
    });
    // The stalled call waking up now, or a replay with the same key, changes nothing.
    const late = await redis.applyBudgetChange(storeRef, 'before-1', {
      operation: 'top_up',
      amountMicros: 400_000,
    });
    expect(late).toEqual({ status: 'abandoned' });
    crash.at = 'none';
    expect(await codeOf(h.admin.topUpBudget(topUp, operatorWithKey('before-1')))).toBe(Code.Aborted);
    expect(await redis.getBudget(storeRef)).toBeUndefined();
    expect(await outcomes(h, 'before-1')).toHaveLength(1);
  });

  it('crash after the Redis change, before its outcome: the reconciler records applied', async () => {
    const { h, redis, crash } = await setUp();
    crash.at = 'after-redis';
    expect(await codeOf(h.admin.topUpBudget(topUp, operatorWithKey('after-1')))).toBe(Code.Internal);
    expect((await redis.getBudget(storeRef))?.limitMicros).toBe(400_000);

    h.clock.advance(SETTINGS.graceMs);
    await h.reconciler().reconcileOnce();
    const [outcome] = await outcomes(h, 'after-1');
    expect(outcome).toMatchObject({
      actor: 'ops-alice',
      actorReason: 'INC-77 prepaid',
      attributes: {
        phase: 'applied',
        recorded_by: 'reconciler',
        amount_micros: '400000',
        after_limit_micros: '400000',
      },
    });
    // Nothing was applied twice, also not by a replay of the call.
    crash.at = 'none';
    const replay = await h.admin.topUpBudget(topUp, operatorWithKey('after-1'));
    expect(replay.after?.limitMicros).toBe(400_000n);
    expect((await redis.getBudget(storeRef))?.limitMicros).toBe(400_000);
  });

  it('two control planes reconciling at once store exactly one outcome per change', async () => {
    const { h, crash, backend, newStore } = await setUp();
    for (let index = 0; index < 10; index++) {
      crash.at = index % 2 === 0 ? 'before-redis' : 'after-redis';
      await codeOf(
        h.admin.topUpBudget({ ...topUp, amountMicros: 1000n }, operatorWithKey(`both-${String(index)}`)),
      );
    }
    h.clock.advance(SETTINGS.graceMs);
    const secondAudit = await backend.open();
    cleanups.push(() => secondAudit.close());
    const first = h.reconciler();
    const second = h.reconciler({}, { changeLog: secondAudit, store: newStore() });
    const passes = await Promise.all([first.reconcileOnce(), second.reconcileOnce()]);

    expect(passes.every((pass) => !pass.failed)).toBe(true);
    expect(passes[0].recorded + passes[1].recorded).toBe(10);
    for (let index = 0; index < 10; index++) {
      const recorded = await outcomes(h, `both-${String(index)}`);
      expect(recorded).toHaveLength(1);
      expect(recorded[0]!.attributes.phase).toBe(index % 2 === 0 ? 'not_applied' : 'applied');
    }
    const counted = await h.registry.getSingleMetricAsString('router_cp_budget_changes_reconciled_total');
    expect(counted).toMatch(/outcome="applied"} 5/);
    expect(counted).toMatch(/outcome="not_applied"} 5/);
    expect(await h.audit.openChanges(h.clock.now(), 100)).toEqual([]);
  });

  it('a call repeated with the same Idempotency-Key (one after another, or at once) applies once', async () => {
    const { h, redis } = await setUp();
    const first = await h.admin.topUpBudget(topUp, operatorWithKey('same-1'));
    expect(await h.admin.topUpBudget(topUp, operatorWithKey('same-1'))).toEqual(first);
    const together = await Promise.all(
      Array.from({ length: 8 }, () => h.admin.topUpBudget(topUp, operatorWithKey('same-2'))),
    );
    expect(new Set(together.map((answer) => answer.auditEventId)).size).toBe(1);
    expect((await redis.getBudget(storeRef))?.limitMicros).toBe(800_000);
    expect(await outcomes(h, 'same-1')).toHaveLength(1);
    expect(await outcomes(h, 'same-2')).toHaveLength(1);
  });
});
