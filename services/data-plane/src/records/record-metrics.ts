import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ShipperLag } from '@api-router/outbox';

/** Metrics of the record outbox and its shipper. Low-cardinality labels only. */
export interface RecordMetrics {
  /** router_outbox_append_failures_total{reason}: appends refused (full, closed, failed, write_failed, invalid_record). */
  readonly appendFailuresTotal: Counter<'reason'>;
  /** router_outbox_ship_failures_total: transport sends that failed (each is retried). */
  readonly shipFailuresTotal: Counter;
  /** router_outbox_corruption_total: corrupt regions found and skipped on open (page someone). */
  readonly corruptionTotal: Counter;
  /** router_outbox_commit_seconds: duration of one group commit (write + fdatasync). */
  readonly commitSeconds: Histogram;
}

/** Reasons pre-created as zero series. */
const APPEND_FAILURE_REASONS = ['full', 'closed', 'failed', 'write_failed', 'invalid_record', 'other'];

/**
 * Registers the record metrics. The backlog gauges (router_outbox_pending_records, _pending_bytes,
 * _oldest_pending_age_seconds, _shipper_consecutive_failures) are read from `lag()` at scrape time.
 */
export function createRecordMetrics(registry: Registry, lag: () => ShipperLag): RecordMetrics {
  const registers = [registry];
  const gauge = (name: string, help: string, read: (value: ShipperLag) => number): void => {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read(lag()));
      },
    });
  };
  gauge('router_outbox_pending_records', 'Records in the outbox not yet delivered.', (l) => l.pendingRecords);
  gauge('router_outbox_pending_bytes', 'Bytes of the records not yet delivered.', (l) => l.pendingBytes);
  gauge(
    'router_outbox_oldest_pending_age_seconds',
    'Age of the oldest record not yet delivered (0 when none).',
    (l) => l.oldestPendingAgeMs / 1000,
  );
  gauge(
    'router_outbox_shipper_consecutive_failures',
    'Failed delivery attempts since the last success.',
    (l) => l.consecutiveFailures,
  );
  const metrics: RecordMetrics = {
    appendFailuresTotal: new Counter({
      name: 'router_outbox_append_failures_total',
      help: 'Outbox appends refused, by reason; the request was answered 503.',
      labelNames: ['reason'],
      registers,
    }),
    shipFailuresTotal: new Counter({
      name: 'router_outbox_ship_failures_total',
      help: 'Outbox batches the transport failed to deliver (retried).',
      registers,
    }),
    corruptionTotal: new Counter({
      name: 'router_outbox_corruption_total',
      help: 'Corrupt outbox regions reported and skipped.',
      registers,
    }),
    commitSeconds: new Histogram({
      name: 'router_outbox_commit_seconds',
      help: 'Duration of one outbox group commit (write + fdatasync).',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    }),
  };
  for (const reason of APPEND_FAILURE_REASONS) metrics.appendFailuresTotal.inc({ reason }, 0);
  return metrics;
}
