import pino from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { PruneOutcome } from './audit-store.js';
import { createRecordRetentionMetrics, RecordPruner } from './record-retention.js';

const DAY_MS = 86_400_000;
const NOW = Date.UTC(2026, 10, 27, 12);

/** A store holding `audit` and `usage` old rows, deleting at most `limit` of each per call. */
function fakeStore(rows: { audit: number; usage: number }, fail?: Error) {
  const calls: { beforeMs: number; limit: number }[] = [];
  return {
    calls,
    rows,
    prune(beforeMs: number, limit: number): Promise<PruneOutcome> {
      calls.push({ beforeMs, limit });
      if (fail !== undefined) return Promise.reject(fail);
      const audit = Math.min(limit, rows.audit);
      const usage = Math.min(limit, rows.usage);
      rows.audit -= audit;
      rows.usage -= usage;
      return Promise.resolve({ audit, usage });
    },
  };
}

function pruner(store: ReturnType<typeof fakeStore>, registry = new Registry()) {
  return new RecordPruner({
    store,
    clock: { now: () => NOW },
    logger: pino({ level: 'silent' }),
    metrics: createRecordRetentionMetrics(registry),
    retentionMs: 30 * DAY_MS,
    batch: 10,
  });
}

async function counter(registry: Registry, name: string, type?: string): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((entry) => entry.name === name);
  const value = metric?.values.find((entry) => type === undefined || entry.labels.type === type);
  return Number(value?.value ?? 0);
}

describe('RecordPruner', () => {
  it('deletes in batches until a batch comes back short, with the retention cutoff', async () => {
    const store = fakeStore({ audit: 25, usage: 12 });
    const registry = new Registry();
    const pass = await pruner(store, registry).pruneOnce();
    expect(pass).toEqual({ audit: 25, usage: 12, failed: false });
    expect(store.rows).toEqual({ audit: 0, usage: 0 });
    expect(store.calls).toEqual([
      { beforeMs: NOW - 30 * DAY_MS, limit: 10 },
      { beforeMs: NOW - 30 * DAY_MS, limit: 10 },
      { beforeMs: NOW - 30 * DAY_MS, limit: 10 },
    ]);
    expect(await counter(registry, 'router_cp_records_pruned_total', 'audit')).toBe(25);
    expect(await counter(registry, 'router_cp_records_pruned_total', 'usage')).toBe(12);
  });

  it('stops at the first empty pass when nothing is old enough', async () => {
    const store = fakeStore({ audit: 0, usage: 0 });
    expect(await pruner(store).pruneOnce()).toEqual({ audit: 0, usage: 0, failed: false });
    expect(store.calls).toHaveLength(1);
  });

  it('counts a failing store and resolves, so that the next pass retries', async () => {
    const store = fakeStore({ audit: 5, usage: 5 }, new Error('database is locked'));
    const registry = new Registry();
    expect(await pruner(store, registry).pruneOnce()).toEqual({ audit: 0, usage: 0, failed: true });
    expect(await counter(registry, 'router_cp_record_prune_failures_total')).toBe(1);
  });

  it('runs a first pass at start and stops after close', async () => {
    const store = fakeStore({ audit: 3, usage: 0 });
    const running = pruner(store);
    running.start();
    await expect.poll(() => store.rows.audit).toBe(0);
    await running.close();
    const calls = store.calls.length;
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(store.calls).toHaveLength(calls);
  });

  it('refuses a retention that is not positive', () => {
    expect(
      () =>
        new RecordPruner({
          store: fakeStore({ audit: 0, usage: 0 }),
          clock: { now: () => NOW },
          logger: pino({ level: 'silent' }),
          metrics: createRecordRetentionMetrics(new Registry()),
          retentionMs: 0,
        }),
    ).toThrow(RangeError);
  });
});
