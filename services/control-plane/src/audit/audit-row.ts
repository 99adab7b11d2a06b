import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import {
  AuditEventSchema,
  UsageRecordSchema,
  type AuditEvent,
  type UsageRecord,
} from '@api-router/contracts';
import { usageRecordKey } from './audit-store.js';

/**
 * Column values of one audit_events row: the queryable fields, plus the whole event as protobuf bytes
 * (what lookups return, so a field added to AuditEvent later needs no migration). Times are ms since the
 * epoch; a missing timestamp is 0.
 */
export interface AuditEventRow {
  eventId: string;
  requestId: string;
  tenantId: string;
  kind: number;
  atMs: number;
  reasonCode: string;
  dataPlaneId: string;
  record: Uint8Array;
}

/**
 * Column values of one usage_records row (same conventions as {@link AuditEventRow}). `recordId` is the
 * unique key: the record's record_id, or its request_id when it has none (usageRecordKey).
 */
export interface UsageRow {
  recordId: string;
  requestId: string;
  tenantId: string;
  startedAtMs: number;
  statusCode: number;
  dataPlaneId: string;
  record: Uint8Array;
}

/** `encoded`: the event's bytes as received, stored as they are; absent, `event` is encoded. */
export function toAuditEventRow(event: AuditEvent, encoded?: Uint8Array): AuditEventRow {
  return {
    eventId: event.eventId,
    requestId: event.requestId,
    tenantId: event.tenantId,
    kind: event.kind,
    atMs: event.at === undefined ? 0 : timestampMs(event.at),
    reasonCode: event.reasonCode,
    dataPlaneId: event.dataPlaneId,
    record: encoded ?? toBinary(AuditEventSchema, event),
  };
}

/** `encoded`: the record's bytes as received, stored as they are; absent, `usage` is encoded. */
export function toUsageRow(usage: UsageRecord, encoded?: Uint8Array): UsageRow {
  return {
    recordId: usageRecordKey(usage),
    requestId: usage.requestId,
    tenantId: usage.tenantId,
    startedAtMs: usage.startedAt === undefined ? 0 : timestampMs(usage.startedAt),
    statusCode: usage.statusCode,
    dataPlaneId: usage.dataPlaneId,
    record: encoded ?? toBinary(UsageRecordSchema, usage),
  };
}

/**
 * A stored usage record as the lookups return it: its bytes decoded; one stored without a record_id (from an
 * older data plane, or before schema version 4) gets its row's key, i.e. its request id.
 */
export function fromUsageRow(recordId: string, record: Uint8Array): UsageRecord {
  const usage = fromBinary(UsageRecordSchema, record);
  if (usage.recordId === '') usage.recordId = recordId;
  return usage;
}
