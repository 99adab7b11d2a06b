import { setImmediate as nextTurn } from 'node:timers/promises';
import { Counter, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { PeriodicPass } from '../periodic-pass.js';
import type { AuditStore, PruneOutcome } from './audit-store.js';

/**
 * Migration 3 of both audit stores: lets `prune` find old usage records by start time without a scan
 * (audit events already have their `at_ms` index). The same statement works in SQLite and Postgres.
 * SQLite's migration 4 copies usage_records and makes this index again on the copy.
 */
export const USAGE_RECORDS_STARTED_INDEX =
  'CREATE INDEX IF NOT EXISTS usage_records_started ON usage_records (started_at_ms)';

/** Time between pruning passes. */
export const PRUNE_INTERVAL_MS = 3_600_000;
/** Rows deleted per statement: one SQLite call blocks the event loop, so it stays short. */
export const PRUNE_BATCH = 5_000;

/** The pruner's series. */
export interface RecordRetentionMetrics {
  /** router_cp_records_pruned_total{type="audit|usage"}: rows deleted for the retention setting. */
  pruned: Counter<'type'>;
  /** router_cp_record_prune_failures_total: passes cut short by a failing audit store. */
  failures: Counter;
}

/** Registers the pruner's series on `registry` (never the prom-client default registry). */
export function createRecordRetentionMetrics(registry: Registry): RecordRetentionMetrics {
  const registers = [registry];
  const pruned = new Counter({
    name: 'router_cp_records_pruned_total',
    help: 'Usage records and audit events deleted because they were older than CP_RECORD_RETENTION_DAYS.',
    labelNames: ['type'],
    registers,
  });
  for (const type of ['audit', 'usage']) pruned.inc({ type }, 0);
  return {
    pruned,
    failures: new Counter({
      name: 'router_cp_record_prune_failures_total',
      help: 'Record pruning passes cut short because the audit store failed.',
      registers,
    }),
  };
}

export interface RecordPrunerDeps {
  store: Pick<AuditStore, 'prune'>;
  clock: Clock;
  logger: Logger;
  metrics: RecordRetentionMetrics;
  /** Records older than this (usage: by start, audit events: by time) are deleted. */
  retentionMs: number;
  intervalMs?: number;
  batch?: number;
}

/**
 * Keeps the audit store within its retention (CP_RECORD_RETENTION_DAYS): a pass deletes the usage records
 * and audit events older than the retention, `batch` rows per statement and table, yielding to the event
 * loop between statements so that ingest goes on, until a statement deletes fewer than `batch`. Operators'
 * budget changes are kept (see AuditStore.prune). Passes run at start and every `intervalMs`, one at a
 * time (PeriodicPass); several control planes pruning one Postgres at once only delete the same rows
 * sooner.
 */
export class RecordPruner {
  readonly #deps: RecordPrunerDeps;
  readonly #batch: number;
  readonly #passes: PeriodicPass;

  constructor(deps: RecordPrunerDeps) {
    if (!(deps.retentionMs > 0)) throw new RangeError('retentionMs must be > 0');
    this.#deps = deps;
    this.#batch = deps.batch ?? PRUNE_BATCH;
    this.#passes = new PeriodicPass(() => this.pruneOnce(), deps.intervalMs ?? PRUNE_INTERVAL_MS);
  }

  /** Runs a pass now, then one every `intervalMs` until close(). */
  start(): void {
    this.#passes.start();
  }

  /** Stops the passes; resolves once a pass in progress has finished its current statement. */
  close(): Promise<void> {
    return this.#passes.close();
  }

  /** One pass. Never rejects: a store failure ends the pass, is logged and counted; the next pass retries. */
  async pruneOnce(): Promise<PruneOutcome & { failed: boolean }> {
    const { store, clock, logger, metrics, retentionMs } = this.#deps;
    const beforeMs = clock.now() - retentionMs;
    const total = { audit: 0, usage: 0, failed: false };
    try {
      for (;;) {
        const deleted = await store.prune(beforeMs, this.#batch);
        total.audit += deleted.audit;
        total.usage += deleted.usage;
        metrics.pruned.inc({ type: 'audit' }, deleted.audit);
        metrics.pruned.inc({ type: 'usage' }, deleted.usage);
        const done = deleted.audit < this.#batch && deleted.usage < this.#batch;
        if (done || this.#passes.state() === 'closed') break;
        await nextTurn();
      }
    } catch (error: unknown) {
      total.failed = true;
      metrics.failures.inc();
      logger.warn({ err: error }, 'record pruning failed; the next pass retries');
    }
    if (total.audit + total.usage > 0) {
      logger.info(
        { audit: total.audit, usage: total.usage, before: new Date(beforeMs).toISOString() },
        'pruned records older than the retention',
      );
    }
    return total;
  }
}
