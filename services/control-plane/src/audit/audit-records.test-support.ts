import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import {
  AuditEventKind,
  AuditEventSchema,
  UsageRecordSchema,
  type AuditEvent,
  type UsageRecord,
} from '@api-router/contracts';
import type { AdminChangeLog } from './admin-change-log.js';
import type { AuditStore, StorableRecord } from './audit-store.js';

// The records and database fixtures the audit store contracts (audit-store-contract.test-support.ts,
// usage-record-contract.test-support.ts) and the ingest tests are written with.

/** One SQL statement with its parameters; `?` marks a parameter, in either database. */
export interface SqlStatement {
  sql: string;
  parameters: readonly (string | number | Buffer)[];
}

/** One empty database (file, schema…) per test; `open` may be called again on the same one. */
export interface AuditStoreFixture extends AsyncDisposable {
  open(): Promise<AuditStore & AdminChangeLog>;
  /**
   * Leaves the (still empty) database as a control plane at schema `version` would: migrates it that far
   * only, then runs `statements` on it. For migration tests; `open` afterwards migrates the rest.
   */
  atSchemaVersion(version: number, statements: readonly SqlStatement[]): Promise<void>;
}

/** The time the fixtures' records are stamped with, unless told otherwise. */
export const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

export function auditEvent(
  init: Partial<Omit<AuditEvent, '$typeName' | 'at'>> & { atMs?: number },
): AuditEvent {
  const { atMs = T0, ...fields } = init;
  return create(AuditEventSchema, {
    eventId: 'evt-1',
    requestId: 'req-1',
    kind: AuditEventKind.RATE_LIMITED,
    tenantId: 'tenant-a',
    keyPublicId: 'key_pub_1',
    reasonCode: 'rate_limited',
    message: 'requests per minute exhausted',
    attributes: { limit_id: 'rpm', remaining: '0' },
    dataPlaneId: 'dp-1',
    ...fields,
    at: timestampFromMs(atMs),
  });
}

/**
 * A usage record as a current data plane sends it: its record id is `rec-<request id>` unless `init` sets
 * one (`recordId: ''` is a record of a data plane older than record ids).
 */
export function usageRecord(init: Partial<Omit<UsageRecord, '$typeName'>> = {}): UsageRecord {
  return create(UsageRecordSchema, {
    requestId: 'req-1',
    recordId: `rec-${init.requestId ?? 'req-1'}`,
    startedAt: timestampFromMs(T0),
    tenantId: 'tenant-a',
    model: 'gpt-test',
    statusCode: 200,
    inputTokens: 12n,
    outputTokens: 34n,
    costMicros: 5600n,
    totalMs: 12.5,
    dataPlaneId: 'dp-1',
    policyVersion: 7n,
    ...init,
  });
}

export const audit = (event: AuditEvent): StorableRecord => ({ type: 'audit', event });
export const usage = (record: UsageRecord): StorableRecord => ({ type: 'usage', usage: record });
