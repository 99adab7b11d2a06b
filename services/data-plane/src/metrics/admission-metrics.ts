import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { PendingCounts } from './pending-counts.js';
import { RequestHistogram } from './request-histogram.js';

/** Limit kinds as they label decisions. */
export const LIMIT_KINDS = ['requests', 'tokens', 'budget', 'concurrency'] as const;

/**
 * Metrics of admission (limits, budgets, the fair queue, degraded mode). Labels are low-cardinality: limit
 * kinds, outcomes, failure classes — never a key, tenant or limit id.
 */
export interface AdmissionMetrics {
  /**
   * router_limit_decisions_total{kind,outcome}: every check of every admission (outcome allowed|denied),
   * queue outcomes (kind concurrency, outcome queued|queue_admitted|queue_timed_out|queue_full), and
   * store-failure decisions (kind store, outcome fail_open_local|fail_closed).
   */
  readonly decisionsTotal: Counter<'kind' | 'outcome'>;
  /** router_reservations_open: admissions of this replica not yet settled or released. */
  readonly reservationsOpen: Gauge;
  /** router_settlement_drift_micros: reserved − settled cost per settled request, micro-units (≥ 0 normally). */
  readonly settlementDriftMicros: RequestHistogram;
  /** router_settlements_total{operation,outcome}: settle/release calls by outcome. */
  readonly settlementsTotal: Counter<'operation' | 'outcome'>;
  /** router_limits_degraded: 1 while the shared limit store is unreachable. */
  readonly degraded: Gauge;
  /** router_limit_store_failures_total{operation,failure}: store calls that failed (timeout|connection|reply). */
  readonly storeFailuresTotal: Counter<'operation' | 'failure'>;
  /** router_budget_fail_open_total: admissions that skipped a budget because its policy fails open. */
  readonly budgetFailOpenTotal: Counter;
  /** router_queue_length: requests waiting in the fair queue of this replica (all tenants). */
  readonly queueLength: Gauge;
  /** router_queue_wait_seconds{outcome}: time spent in the queue, by how the wait ended. */
  readonly queueWaitSeconds: Histogram<'outcome'>;
  /**
   * Counts one check of a decision in decisionsTotal. The hot path (every check of every request): a plain
   * addition, folded into the counter when it is read (a scrape); see pending-counts.ts.
   */
  countCheck(kind: LimitKind, allowed: boolean): void;
  /** Counts a settle/release outcome in settlementsTotal (hot path, like countCheck). */
  countSettlement(operation: 'settle' | 'release', outcome: string): void;
}

export type LimitKind = (typeof LIMIT_KINDS)[number];

export function createAdmissionMetrics(registry: Registry, queueLength: () => number): AdmissionMetrics {
  const registers = [registry];
  const checks = new PendingCounts(['kind', 'outcome'] as const);
  const settlements = new PendingCounts(['operation', 'outcome'] as const);
  const decisionsTotal = new Counter({
    name: 'router_limit_decisions_total',
    help: 'Limit decisions by limit kind and outcome (per check; queue and store-failure outcomes too).',
    labelNames: ['kind', 'outcome'] as const,
    registers,
    collect() {
      checks.foldInto(this);
    },
  });
  const settlementsTotal = new Counter({
    name: 'router_settlements_total',
    help: 'Settle and release calls by outcome (settled, released, already-*, unknown, failed).',
    labelNames: ['operation', 'outcome'] as const,
    registers,
    collect() {
      settlements.foldInto(this);
    },
  });
  // Every kind's two check outcomes, held: a check is counted without a lookup.
  const checkCounts = new Map(
    LIMIT_KINDS.map((kind) => [
      kind,
      { allowed: checks.entry(kind, 'allowed'), denied: checks.entry(kind, 'denied') },
    ]),
  );
  const metrics: AdmissionMetrics = {
    decisionsTotal,
    reservationsOpen: new Gauge({
      name: 'router_reservations_open',
      help: 'Admissions of this replica holding a reservation (not yet settled or released).',
      registers,
    }),
    settlementDriftMicros: new RequestHistogram({
      name: 'router_settlement_drift_micros',
      help: 'Reserved minus settled cost per settled request, in micro-units of currency.',
      buckets: [0, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000],
      registers,
    }),
    settlementsTotal,
    degraded: new Gauge({
      name: 'router_limits_degraded',
      help: '1 while the shared limit store is unreachable and the store-failure policy applies.',
      registers,
    }),
    storeFailuresTotal: new Counter({
      name: 'router_limit_store_failures_total',
      help: 'Limit store calls that failed, by operation and failure (timeout, connection, reply).',
      labelNames: ['operation', 'failure'],
      registers,
    }),
    budgetFailOpenTotal: new Counter({
      name: 'router_budget_fail_open_total',
      help: 'Admissions that skipped a budget during a store outage because its policy fails open.',
      registers,
    }),
    queueLength: new Gauge({
      name: 'router_queue_length',
      help: 'Requests waiting for a concurrency slot in the fair queue of this replica.',
      registers,
      collect() {
        this.set(queueLength());
      },
    }),
    queueWaitSeconds: new Histogram({
      name: 'router_queue_wait_seconds',
      help: 'Time requests waited in the fair queue, by outcome (admitted, timed_out, aborted, ...).',
      labelNames: ['outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    countCheck(kind, allowed) {
      const counts = checkCounts.get(kind);
      if (counts === undefined) throw new RangeError(`unknown limit kind ${String(kind)}`);
      (allowed ? counts.allowed : counts.denied).count += 1;
    },
    countSettlement(operation, outcome) {
      settlements.add(operation, outcome);
    },
  };
  for (const kind of LIMIT_KINDS) {
    for (const outcome of ['allowed', 'denied']) decisionsTotal.inc({ kind, outcome }, 0);
  }
  metrics.degraded.set(0);
  metrics.reservationsOpen.set(0);
  return metrics;
}
