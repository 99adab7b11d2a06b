import type { Clock } from '../clock.js';
import { uuidV7 } from '../http/request-id.js';
import { pooledRandomBytes, type RandomBytes } from '../random-pool.js';
import { RECORD_TOPICS } from './grpc-record-ingest-transport.js';
import { appendDurably, type RecordAppender } from './record-appender.js';
import { encodeUsageRecord } from './usage-record-wire.js';

/** One request's usage as the pipeline describes it; the recorder adds the record id and the data plane id. */
export interface UsageRecordInit {
  requestId: string;
  /** Wall-clock arrival time, ms since the Unix epoch. */
  startedAtMs: number;
  tenantId: string;
  keyPublicId: string;
  /** Public model name the client asked for. */
  model: string;
  /** Empty when the request ended before a route was chosen. */
  routeId: string;
  /** The backend of the last attempt; empty when none was tried. */
  backendId: string;
  /** HTTP status the client got (for a stream: 200, with `truncated` telling whether it ended cleanly). */
  statusCode: number;
  inputTokens: number;
  outputTokens: number;
  /**
   * What settlement charges, in micro-units: the usage at the serving backend's price; the reservation when
   * a backend answered without usable usage; 0 when unpriced or no backend answered.
   */
  costMicros: number;
  /** Upstream attempts (first try + failovers). */
  attempts: number;
  streamed: boolean;
  /** The upstream stream ended before its clean end. */
  truncated: boolean;
  /** Router-measured durations in ms (see routerTimings). */
  totalMs: number;
  upstreamMs: number;
  overheadMs: number;
  queueMs: number;
  /** Streams: arrival to first content, ms; 0 when none. */
  timeToFirstTokenMs: number;
  policyVersion: bigint;
}

/** Records usage durably. */
export interface UsageRecorder {
  /**
   * Appends the record to the durable outbox; resolves only once it is on stable storage. Rejects with a
   * 503 `dependency_unavailable` RouterError when the outbox cannot take it (see appendDurably).
   */
  record(usage: UsageRecordInit): Promise<void>;
}

export interface OutboxUsageRecorderDeps {
  outbox: RecordAppender;
  /** DP_ID, stamped on every record. */
  dataPlaneId: string;
  /** Time part of record ids. */
  clock: Clock;
  /** Source of random bytes for record ids; pooled CSPRNG bytes (random-pool.ts) by default. */
  randomBytes?: RandomBytes;
}

/**
 * The usage recorder over the outbox: router.v1.UsageRecord bytes under topic `usage`, key = request id.
 * Each record gets its own `record_id`, a fresh UUIDv7 (like audit event ids; random bytes from a pool, as
 * this runs on every request): the control plane deduplicates re-shipped copies on it. Not on the request
 * id, which a client may reuse (`x-request-id`): each request served is its own record (ADR 0011).
 */
export function createOutboxUsageRecorder(deps: OutboxUsageRecorderDeps): UsageRecorder {
  const random = deps.randomBytes ?? pooledRandomBytes();
  return {
    async record(init) {
      await appendDurably(deps.outbox, {
        key: init.requestId,
        topic: RECORD_TOPICS.usage,
        payload: encodeUsageRecord(init, deps.dataPlaneId, uuidV7(deps.clock.now(), random(10))),
      });
    },
  };
}
