import { join } from 'node:path';
import type { Registry } from 'prom-client';
import { Outbox, OutboxError, Shipper, type OutboxState, type OutboxTransport } from '@api-router/outbox';
import type { Logger } from '@api-router/observability';
import type { Clock } from '../clock.js';
import { systemTimers, type TimerHandle, type Timers } from '../timers.js';
import type { RecordsSettings } from '../config.js';
import { createOutboxAuditRecorder, type AuditRecorder } from './audit-recorder.js';
import { createRecordMetrics, type RecordMetrics } from './record-metrics.js';
import type { RecordAppender } from './record-appender.js';
import { createRecordTransport, type RecordTransport, type RecordTransportKind } from './record-transport.js';
import { createOutboxUsageRecorder, type UsageRecorder } from './usage-recorder.js';

/**
 * The shipper acks (writes + fsyncs the outbox cursor) at most this often instead of after every batch:
 * a crash re-ships at most about this much of what was already delivered (duplicates, deduplicated by the
 * consumers), and the cursor costs ≤ 10 writes/s instead of one per shipped batch.
 */
export const SHIPPER_ACK_INTERVAL_MS = 100;

/**
 * A batch that is not full waits until this long after the previous send: at most ~10 transport calls per
 * second at moderate load instead of one per (small, unsynced) commit; records ship ≤ 100 ms later. Each
 * call costs both planes far more than its records (gRPC stream, the control plane's SQLite commit): at
 * ~2 200 requests/s 100 ms instead of 20 ms cut the data plane's CPU per request by ~12 % (157 / 163 vs
 * 178 / 189 µs, two alternated pairs of the inference-overhead benchmark at a 20 ms backend) and the busy
 * share of the core the control plane runs on from 40 % to 30–32 %, with the same p99.
 */
export const SHIPPER_LINGER_MS = 100;

/**
 * Outbox batches up to this size are written with a synchronous pwrite(2) on the event loop: a few hundred
 * bytes into the page cache cost less than the libuv threadpool round trip (about 40 µs of CPU per record
 * in packages/outbox/bench/ship-cpu-bench.ts). Larger batches, and every fdatasync, use the threadpool.
 */
export const OUTBOX_MAX_SYNC_WRITE_BYTES = 64 * 1024;

/**
 * An outbox batch collecting for this long is written at the next append. A response waits for its usage
 * record's write, and the group commit's timer (`setImmediate`) fires only after every I/O callback of the
 * event-loop turn: when a burst of upstream responses arrives together, the first of them would wait for
 * the whole burst's processing (tens of ms on a loaded router). Cutting the batch after ~1 ms (Date.now
 * granularity: 1–2 ms) bounds that wait and keeps a write per millisecond of work at most. Measured
 * (docs/performance-log.md): router_overhead_seconds mean 1.6–2.4 → 0.9–1.4 ms at a 20 ms backend.
 */
export const OUTBOX_MAX_COLLECT_MS = 1;

/** The outbox as the readiness detail shows it. */
export interface OutboxStatus {
  /**
   * `failed` after an fdatasync or write error: every append is refused (requests fail 503) until the
   * outbox is reopened, i.e. the process restarts, so readiness and liveness fail (health-routes.ts).
   */
  state: OutboxState;
  /** Records not yet delivered. */
  pending: number;
  /** Age of the oldest of them in whole seconds (0 when none). */
  oldestAgeSeconds: number;
  /**
   * How long the transport send in flight has been waiting, in whole seconds (0 when none). Kafka's
   * producer retries an unreachable broker without limit: during an outage its send never fails, it waits.
   */
  sendInFlightSeconds: number;
  transport: RecordTransportKind;
}

/** The data plane's record path: durable recorders in front, a shipper draining to the transport behind. */
export interface RecordShipping {
  readonly audit: AuditRecorder;
  readonly usage: UsageRecorder;
  status(): OutboxStatus;
  /**
   * Shutdown: waits up to `flushTimeoutMs` for the shipper to deliver the backlog (what is left stays on
   * disk and ships after the next start), stops the shipper without waiting for a send still in flight,
   * closes the transport (waiting for that only until the same `flushTimeoutMs` from the start of close
   * has passed), closes the outbox (appends still in flight commit first). Call after the HTTP server
   * closed. Rejects only when the outbox's close failed (its last fdatasync: records may not be durable);
   * an undelivered backlog or a transport that would not close is no failure.
   */
  close(): Promise<void>;
}

export interface RecordShippingOptions {
  records: RecordsSettings;
  /** The outbox defaults to `<cacheDir>/outbox`. */
  cacheDir: string;
  controlPlaneAddress: string;
  dataPlaneId: string;
}

export interface RecordShippingDeps {
  logger: Logger;
  clock: Clock;
  metricsRegistry: Registry;
  /** Replaces the configured transport (tests); it is not closed here. */
  transport?: OutboxTransport;
}

/**
 * Opens (recovering) the outbox, builds the transport (Kafka or the control plane) and starts the shipper,
 * which at once re-sends whatever an earlier run left undelivered. Rejects when the outbox directory cannot
 * be opened (start-up must fail: serving without durable records is not allowed).
 */
export async function startRecordShipping(
  options: RecordShippingOptions,
  deps: RecordShippingDeps,
): Promise<RecordShipping> {
  const logger = deps.logger.child({ component: 'outbox' });
  const directory = options.records.outboxDir ?? join(options.cacheDir, 'outbox');
  // Gauges read the shipper's lag and the outbox's sync state at scrape time only, after they exist.
  const metrics = createRecordMetrics(deps.metricsRegistry, {
    lag: () => shipper.lag(),
    sync: () => outbox.syncStats(),
  });
  const outbox = await Outbox.open({
    directory,
    maxBytes: options.records.outboxMaxBytes,
    maxSyncWriteBytes: OUTBOX_MAX_SYNC_WRITE_BYTES,
    maxBatchCollectMs: OUTBOX_MAX_COLLECT_MS,
    sync:
      options.records.outboxSync === 'batch'
        ? { mode: 'per-batch' }
        : { mode: 'interval', intervalMs: options.records.outboxSyncIntervalMs },
    logger,
    events: {
      onCommit: (report) => metrics.commitSeconds.observe(report.durationMs / 1000),
      onSync: (report) => metrics.syncSeconds.observe(report.durationMs / 1000),
      onCorruption: () => metrics.corruptionTotal.inc(),
      // The outbox logs each cut itself (a warning); counted so that a crash's trace shows on a dashboard.
      onTornTail: (report) => {
        metrics.tornTailTotal.inc();
        metrics.tornTailBytesTotal.inc(report.truncatedBytes);
      },
    },
  });
  const transport: RecordTransport =
    deps.transport === undefined
      ? createRecordTransport({ ...options, logger })
      : { kind: 'custom', send: (records) => deps.transport!.send(records), close: () => Promise.resolve() };
  const shipper = new Shipper({
    outbox,
    ackIntervalMs: SHIPPER_ACK_INTERVAL_MS,
    lingerMs: SHIPPER_LINGER_MS,
    transport: {
      send: async (records) => {
        try {
          await transport.send(records);
        } catch (error: unknown) {
          metrics.shipFailuresTotal.inc();
          throw error;
        }
      },
    },
    logger,
  });
  const appender = countingAppender(outbox, metrics);
  shipper.start();
  logger.info(
    { directory, transport: transport.kind, sync: options.records.outboxSync },
    'record shipping started',
  );

  let closing: Promise<void> | undefined;
  return {
    audit: createOutboxAuditRecorder({
      outbox: appender,
      clock: deps.clock,
      dataPlaneId: options.dataPlaneId,
    }),
    usage: createOutboxUsageRecorder({
      outbox: appender,
      dataPlaneId: options.dataPlaneId,
      clock: deps.clock,
    }),
    status() {
      const lag = shipper.lag();
      return {
        state: outbox.state(),
        pending: lag.pendingRecords,
        oldestAgeSeconds: Math.floor(lag.oldestPendingAgeMs / 1000),
        sendInFlightSeconds: Math.floor(lag.sendInFlightMs / 1000),
        transport: transport.kind,
      };
    },
    close: () => (closing ??= closeShipping({ outbox, shipper, transport, logger }, options.records)),
  };
}

/** A promise resolving `'expired'` after `delayMs` (on unref'd timers: it never holds the process alone). */
function timeLeft(timers: Timers, delayMs: number): { expired: Promise<'expired'>; cancel(): void } {
  let handle: TimerHandle | undefined;
  const expired = new Promise<'expired'>((resolve) => {
    handle = timers.setTimeout(() => resolve('expired'), delayMs);
  });
  return { expired, cancel: () => timers.clearTimeout(handle!) };
}

function countingAppender(outbox: Outbox, metrics: RecordMetrics): RecordAppender {
  return {
    async append(record) {
      try {
        return await outbox.append(record);
      } catch (error: unknown) {
        metrics.appendFailuresTotal.inc({ reason: error instanceof OutboxError ? error.code : 'other' });
        throw error;
      }
    },
  };
}

async function closeShipping(
  parts: { outbox: Outbox; shipper: Shipper; transport: RecordTransport; logger: Logger },
  records: RecordsSettings,
): Promise<void> {
  const { outbox, shipper, transport, logger } = parts;
  // One deadline for delivering the backlog and closing the transport: DP_OUTBOX_FLUSH_TIMEOUT_MS bounds the
  // part of shutdown that waits on the network, whatever the transport does.
  const deadline = timeLeft(systemTimers, records.flushTimeoutMs);
  const drained = await shipper.flush(records.flushTimeoutMs);
  if (!drained) {
    // Not lost: the records stay in the outbox and the next start ships them.
    logger.warn(
      { ...shipper.lag(), flushTimeoutMs: records.flushTimeoutMs },
      'outbox not drained at shutdown',
    );
  }
  // Past the flush deadline a send in flight is not waited for: kafkajs retrying an unreachable broker (connect
  // retries, a 30 s ack timeout) would outlast the pod's grace period, and the SIGKILL would skip the outbox's
  // close. Its batch is not acked: it stays in the outbox and ships again after the next start.
  await shipper.close({ abandonSend: true });
  try {
    // kafkajs' disconnect waits for the produce requests in flight (up to their 30 s ack timeout) and a
    // connection to a hung peer may never close: past the deadline it is left behind, and the outbox, whose
    // unacked records ship again after the next start, still closes.
    const outcome = await Promise.race([transport.close().then(() => 'closed' as const), deadline.expired]);
    if (outcome === 'expired') {
      logger.warn(
        { flushTimeoutMs: records.flushTimeoutMs, transport: transport.kind },
        'record transport did not close before the shutdown deadline; left behind',
      );
    }
  } catch (error: unknown) {
    // The connection is being dropped anyway; nothing undelivered depends on it (it stays in the outbox).
    logger.warn({ err: error }, 'record transport close failed');
  } finally {
    deadline.cancel();
  }
  try {
    await outbox.close();
  } catch (error: unknown) {
    // A failed close leaves committed records on disk; recovery at the next open re-validates them. But its
    // last fdatasync failed: records already answered may not be durable, so the shutdown fails (exit 1).
    logger.error({ err: error }, 'outbox close failed');
    throw error;
  }
}
