import { randomBytes } from 'node:crypto';
import { create, toBinary } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { AuditEventSchema, type AuditEvent, type AuditEventKind } from '@api-router/contracts';
import type { Clock } from '../clock.js';
import { uuidV7 } from '../http/request-id.js';
import { appendDurably, type RecordAppender } from './record-appender.js';
import { RECORD_TOPICS } from './grpc-record-ingest-transport.js';

/** One audit event as the pipeline describes it; the recorder adds the event id, time and data plane. */
export interface AuditEventInit {
  kind: AuditEventKind;
  /** The request the event is about (the outbox / Kafka key). */
  requestId: string;
  tenantId?: string;
  /** The key's public id (e.g. `rk_demo01`), never its secret; omit when the key is not known. */
  keyPublicId?: string;
  /** Stable machine-readable reason: an error code of docs/errors.md, an auth failure reason, a limit id. */
  reasonCode: string;
  /** Human-readable explanation (no secrets: it is stored and shown to operators). */
  message: string;
  /** Numbers and names the decision used (limit id, remaining, reset time …). Values are strings. */
  attributes?: Readonly<Record<string, string>>;
  /** Admin changes: who made the change, and why. */
  actor?: string;
  actorReason?: string;
}

/** Records audit events durably. */
export interface AuditRecorder {
  /**
   * Appends the event to the durable outbox; resolves only once it is on stable storage, so a caller that
   * awaits it before responding can be killed (`kill -9`) right after and the event still ships. Rejects
   * with a 503 `dependency_unavailable` RouterError when the outbox cannot take it (full, closed, failed):
   * let it propagate, the request must not be answered as if it had been audited.
   */
  record(event: AuditEventInit): Promise<void>;
}

export interface OutboxAuditRecorderDeps {
  outbox: RecordAppender;
  clock: Clock;
  /** DP_ID, stamped on every event. */
  dataPlaneId: string;
  /** Source of random bytes for event ids; crypto.randomBytes by default. */
  randomBytes?: (size: number) => Buffer;
}

/**
 * The audit recorder over the outbox: builds a router.v1.AuditEvent (event id = a fresh UUIDv7, so ids
 * sort by time and the control plane's store dedupes re-shipped copies on it; `at` = the clock's now) and
 * appends its protobuf bytes under topic `audit`, key = request id.
 */
export function createOutboxAuditRecorder(deps: OutboxAuditRecorderDeps): AuditRecorder {
  const random = deps.randomBytes ?? randomBytes;
  return {
    async record(init) {
      const event = buildAuditEvent(init, {
        eventId: uuidV7(deps.clock.now(), random(10)),
        atMs: deps.clock.now(),
        dataPlaneId: deps.dataPlaneId,
      });
      await appendDurably(deps.outbox, {
        key: init.requestId,
        topic: RECORD_TOPICS.audit,
        payload: toBinary(AuditEventSchema, event),
      });
    },
  };
}

/** The wire event for `init`; exported for tests and for recorders that are not the outbox. */
export function buildAuditEvent(
  init: AuditEventInit,
  stamp: { eventId: string; atMs: number; dataPlaneId: string },
): AuditEvent {
  return create(AuditEventSchema, {
    eventId: stamp.eventId,
    requestId: init.requestId,
    at: timestampFromMs(stamp.atMs),
    kind: init.kind,
    tenantId: init.tenantId ?? '',
    keyPublicId: init.keyPublicId ?? '',
    reasonCode: init.reasonCode,
    message: init.message,
    attributes: { ...init.attributes },
    actor: init.actor ?? '',
    actorReason: init.actorReason ?? '',
    dataPlaneId: stamp.dataPlaneId,
  });
}
