import { fromBinary, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import type { Timestamp } from '@bufbuild/protobuf/wkt';
import type { ServiceImpl } from '@connectrpc/connect';
import {
  AuditEventSchema,
  UsageRecordSchema,
  type AuditEvent,
  type IngestRecord,
  type RecordIngestService,
  type UsageRecord,
} from '@api-router/contracts';
import { RouterError } from '@api-router/errors';
import type { Logger } from 'pino';
import type { AuditStore, StorableRecord } from './audit/audit-store.js';
import type { Clock } from './clock.js';
import { MAX_STORABLE_STATUS_CODE, fieldWithNul, isTimestampOutOfRange } from './storable-values.js';
import type { ControlPlaneMetrics } from './control-plane-metrics.js';

/** Longest event_id / request_id / record_id accepted (ids are UUIDs or similar; this only stops abuse). */
const MAX_ID_LENGTH = 256;

export interface RecordIngestServiceDeps {
  store: Pick<AuditStore, 'ingest'>;
  clock: Clock;
  metrics: Pick<ControlPlaneMetrics, 'recordsIngested' | 'recordsDuplicate' | 'recordsRejected'>;
  logger: Logger;
}

/**
 * RecordIngestService: data planes' outboxes ship audit events and usage records here. Not authenticated
 * yet, like PolicySyncService (mTLS between the planes comes later, ADR 0002).
 *
 * A record that can never be stored is rejected on its own (logged, counted, listed in the response) so
 * that it cannot block the sender's outbox for ever; a store failure fails the whole call with
 * `dependency_unavailable` (UNAVAILABLE), and the outbox re-sends the batch — the store's idempotency turns
 * the re-sent records it already has into duplicates.
 */
export function createRecordIngestService(
  deps: RecordIngestServiceDeps,
): ServiceImpl<typeof RecordIngestService> {
  const { store, clock, metrics, logger } = deps;
  return {
    async ingestRecords(request) {
      const storable: StorableRecord[] = [];
      const rejected: { index: number; key: string; reason: string }[] = [];
      request.records.forEach((record, index) => {
        const result = toStorable(record, request.dataPlaneId);
        if (typeof result === 'string') rejected.push({ index, key: record.key, reason: result });
        else storable.push(result);
      });
      if (rejected.length > 0) {
        metrics.recordsRejected.inc(rejected.length);
        logger.warn({ dataPlaneId: request.dataPlaneId, rejected }, 'ingest: records rejected');
      }
      let outcome;
      try {
        outcome = await store.ingest(storable, clock.now());
      } catch (error: unknown) {
        logger.error({ err: error, dataPlaneId: request.dataPlaneId }, 'ingest: audit store failed');
        throw new RouterError('dependency_unavailable', {
          message: 'the audit store is unavailable; retry the batch',
          cause: error,
        });
      }
      metrics.recordsIngested.inc({ type: 'audit' }, outcome.storedAudit);
      metrics.recordsIngested.inc({ type: 'usage' }, outcome.storedUsage);
      metrics.recordsDuplicate.inc(outcome.duplicates);
      return {
        stored: outcome.storedAudit + outcome.storedUsage,
        duplicates: outcome.duplicates,
        rejected,
      };
    },
  };
}

/**
 * The record to store, or why it cannot be stored. An encoded record (usage_bytes / audit_bytes, what data
 * planes send) is decoded to validate and index it and stored as the bytes it came in, which saves
 * re-encoding it (most of this call's CPU when it did). A record without its own data_plane_id gets the
 * sender's, so the lookups can say where it came from; that changes the record, so it is then re-encoded.
 */
function toStorable(record: IngestRecord, dataPlaneId: string): StorableRecord | string {
  const payload = record.record;
  switch (payload.case) {
    case 'audit':
      return storableAudit(payload.value, dataPlaneId, undefined);
    case 'auditBytes':
      return decodeThen(
        AuditEventSchema,
        payload.value,
        'audit_bytes do not decode as an AuditEvent',
        (event) => storableAudit(event, dataPlaneId, payload.value),
      );
    case 'usage':
      return storableUsage(payload.value, dataPlaneId, undefined);
    case 'usageBytes':
      return decodeThen(
        UsageRecordSchema,
        payload.value,
        'usage_bytes do not decode as a UsageRecord',
        (usage) => storableUsage(usage, dataPlaneId, payload.value),
      );
    default:
      return 'record has neither usage nor audit';
  }
}

function storableAudit(
  event: AuditEvent,
  dataPlaneId: string,
  encoded: Uint8Array | undefined,
): StorableRecord | string {
  if (event.eventId === '') return 'audit event without event_id';
  if (event.eventId.length > MAX_ID_LENGTH) return `event_id longer than ${MAX_ID_LENGTH} characters`;
  if (event.requestId.length > MAX_ID_LENGTH) return `request_id longer than ${MAX_ID_LENGTH} characters`;
  const why = unstorable(
    {
      event_id: event.eventId,
      request_id: event.requestId,
      tenant_id: event.tenantId,
      reason_code: event.reasonCode,
      data_plane_id: event.dataPlaneId === '' ? dataPlaneId : event.dataPlaneId,
    },
    'at',
    event.at,
  );
  if (why !== undefined) return why;
  if (event.dataPlaneId !== '') return { type: 'audit', event, encoded };
  event.dataPlaneId = dataPlaneId;
  return { type: 'audit', event };
}

function storableUsage(
  usage: UsageRecord,
  dataPlaneId: string,
  encoded: Uint8Array | undefined,
): StorableRecord | string {
  if (usage.requestId === '') return 'usage record without request_id';
  if (usage.requestId.length > MAX_ID_LENGTH) return `request_id longer than ${MAX_ID_LENGTH} characters`;
  // An empty record_id (a data plane older than the field) is fine: the store keys the record by request_id.
  if (usage.recordId.length > MAX_ID_LENGTH) return `record_id longer than ${MAX_ID_LENGTH} characters`;
  if (usage.statusCode > MAX_STORABLE_STATUS_CODE) return `status_code above ${MAX_STORABLE_STATUS_CODE}`;
  const why = unstorable(
    {
      request_id: usage.requestId,
      record_id: usage.recordId,
      tenant_id: usage.tenantId,
      data_plane_id: usage.dataPlaneId === '' ? dataPlaneId : usage.dataPlaneId,
    },
    'started_at',
    usage.startedAt,
  );
  if (why !== undefined) return why;
  if (usage.dataPlaneId !== '') return { type: 'usage', usage, encoded };
  usage.dataPlaneId = dataPlaneId;
  return { type: 'usage', usage };
}

/** `then` of the decoded message, or `failure` with the decoder's error when the bytes are not that message. */
function decodeThen<Desc extends DescMessage>(
  schema: Desc,
  bytes: Uint8Array,
  failure: string,
  then: (message: MessageShape<Desc>) => StorableRecord | string,
): StorableRecord | string {
  let message: MessageShape<Desc>;
  try {
    message = fromBinary(schema, bytes);
  } catch (error: unknown) {
    return `${failure}: ${error instanceof Error ? error.message : String(error)}`;
  }
  return then(message);
}

/** Why a record with these indexed text fields and time cannot be stored (storable-values.ts), or undefined. */
function unstorable(
  fields: Record<string, string>,
  timeName: string,
  time: Timestamp | undefined,
): string | undefined {
  const withNul = fieldWithNul(fields);
  if (withNul !== undefined) return `${withNul} contains a NUL character`;
  if (time !== undefined && isTimestampOutOfRange(time)) {
    return `${timeName} is outside the timestamp range (years 0001 to 9999)`;
  }
  return undefined;
}
