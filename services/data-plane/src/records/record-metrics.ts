import { Counter, Gauge, type Registry } from 'prom-client';
import type { OutboxSyncStats, ShipperLag } from '@api-router/outbox';
import { RequestHistogram } from '../metrics/request-histogram.js';

/** Metrics of the record outbox and its shipper. Low-cardinality labels only. */
export interface RecordMetrics {
  /** router_outbox_append_failures_total{reason}: appends refused (full, closed, failed, write_failed, invalid_record). */
  readonly appendFailuresTotal: Counter<'reason'>;
  /** router_outbox_ship_failures_total: transport sends that failed (each is retried). */
  readonly shipFailuresTotal: Counter;
  /** router_outbox_corruption_total: corrupt regions found and skipped on open (page someone). */
  readonly corruptionTotal: Counter;
  /**
   * router_outbox_torn_tail_total: torn writes cut from the newest segment on open. One after a `kill -9`
   * mid-append is normal (no caller saw those appends succeed); after an OS crash or power loss in the
   * interval mode the cut may hold records whose append had resolved, and bit rot there cuts every record
   * after it: not a page, but worth a look when it happens without a known crash.
   */
  readonly tornTailTotal: Counter;
  /** router_outbox_torn_tail_bytes_total: the bytes those cuts removed (a few hundred: one record). */
  readonly tornTailBytesTotal: Counter;
  /** router_outbox_commit_seconds: duration of one group commit (write, + fdatasync with DP_OUTBOX_SYNC=batch). */
  readonly commitSeconds: RequestHistogram;
  /** router_outbox_sync_seconds: duration of one background fdatasync (DP_OUTBOX_SYNC=interval). */
  readonly syncSeconds: RequestHistogram;
}

/** What the scrape-time gauges read. */
export interface RecordMetricsSources {
  lag(): ShipperLag;
  sync(): OutboxSyncStats;
}

/** Reasons pre-created as zero series. */
const APPEND_FAILURE_REASONS = ['full', 'closed', 'failed', 'write_failed', 'invalid_record', 'other'];

const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/**
 * Registers the record metrics. The backlog gauges (router_outbox_pending_records, _pending_bytes,
 * _oldest_pending_age_seconds, _shipper_consecutive_failures, _send_in_flight_seconds) are read from `lag()`
 * at scrape time, the durability gauges (router_outbox_unsynced_records, _unsynced_bytes,
 * _last_sync_age_seconds) from `sync()`.
 */
export function createRecordMetrics(registry: Registry, sources: RecordMetricsSources): RecordMetrics {
  const registers = [registry];
  const scraped = (name: string, help: string, read: () => number): void => {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });
  };
  const gauge = (name: string, help: string, read: (value: ShipperLag) => number): void =>
    scraped(name, help, () => read(sources.lag()));
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
  // The Kafka producer retries an unreachable broker without limit (idempotence needs it): its send then
  // neither fails nor resolves, and only this gauge (and the pending age) shows the outage. Alert on it.
  gauge(
    'router_outbox_send_in_flight_seconds',
    'How long the transport send in flight has been waiting for the brokers or control plane (0 when none).',
    (l) => l.sendInFlightMs / 1000,
  );
  scraped(
    'router_outbox_unsynced_records',
    'Records written to the outbox but not yet fdatasynced: what an OS crash or power loss could lose now.',
    () => sources.sync().unsyncedRecords,
  );
  scraped(
    'router_outbox_unsynced_bytes',
    'Bytes written to the outbox but not yet fdatasynced.',
    () => sources.sync().unsyncedBytes,
  );
  scraped(
    'router_outbox_last_sync_age_seconds',
    'Time since the last successful outbox fdatasync (or the open).',
    () => Math.max(0, Date.now() - sources.sync().lastSyncAtMs) / 1000,
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
    tornTailTotal: new Counter({
      name: 'router_outbox_torn_tail_total',
      help: 'Torn writes truncated from the end of the newest outbox segment on open (after a crash).',
      registers,
    }),
    tornTailBytesTotal: new Counter({
      name: 'router_outbox_torn_tail_bytes_total',
      help: 'Bytes truncated from the end of the newest outbox segment on open.',
      registers,
    }),
    // A commit per event-loop turn that appended records: as often as a request, nearly (ADR 0010).
    commitSeconds: new RequestHistogram({
      name: 'router_outbox_commit_seconds',
      help: 'Duration of one outbox group commit (write; + fdatasync with DP_OUTBOX_SYNC=batch).',
      buckets: DURATION_BUCKETS,
      registers,
    }),
    syncSeconds: new RequestHistogram({
      name: 'router_outbox_sync_seconds',
      help: 'Duration of one background outbox fdatasync (DP_OUTBOX_SYNC=interval).',
      buckets: DURATION_BUCKETS,
      registers,
    }),
  };
  for (const reason of APPEND_FAILURE_REASONS) metrics.appendFailuresTotal.inc({ reason }, 0);
  return metrics;
}
