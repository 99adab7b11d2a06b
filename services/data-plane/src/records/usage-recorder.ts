import { RECORD_TOPICS } from './grpc-record-ingest-transport.js';
import { appendDurably, type RecordAppender } from './record-appender.js';
import { encodeUsageRecord } from './usage-record-wire.js';

/** One request's usage as the pipeline describes it; the recorder adds the data plane id. */
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
  /** Real cost at the serving backend's price, in micro-units; 0 when unpriced or no usage. */
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
}

/** The usage recorder over the outbox: router.v1.UsageRecord bytes under topic `usage`, key = request id. */
export function createOutboxUsageRecorder(deps: OutboxUsageRecorderDeps): UsageRecorder {
  return {
    async record(init) {
      await appendDurably(deps.outbox, {
        key: init.requestId,
        topic: RECORD_TOPICS.usage,
        payload: encodeUsageRecord(init, deps.dataPlaneId),
      });
    },
  };
}
