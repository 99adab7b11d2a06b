import { toBinary } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { UsageRecordSchema } from '@api-router/contracts';
import { expect, it } from 'vitest';
import type { AdminChangeLog } from './admin-change-log.js';
import { MAX_EVENTS_PER_REQUEST, MAX_USAGE_RECORDS_PER_REQUEST, type AuditStore } from './audit-store.js';
import {
  T0,
  audit,
  auditEvent,
  usage,
  usageRecord,
  type AuditStoreFixture,
} from './audit-records.test-support.js';

/** What the usage-record contract needs from the audit store contract that runs it (its cleanups). */
export interface UsageRecordContractHooks {
  /** A fresh database and a store open on it, both closed after the test. */
  readonly openFresh: () => Promise<{ store: AuditStore & AdminChangeLog; fixture: AuditStoreFixture }>;
  /** A fresh database, not opened yet (migration tests), disposed of after the test. */
  readonly freshFixture: () => Promise<AuditStoreFixture>;
  /** Closes `store` after the test. */
  readonly closeLater: (store: AuditStore) => void;
}

/**
 * The usage-record part of the audit store contract (ADR 0011): a usage record's identity is its
 * record_id, a request id may repeat, a record of an older data plane is keyed by its request id, lookups
 * are bounded, and migration 4 keeps the rows of schema 3. Run inside describeAuditStoreContract.
 */
export function describeUsageRecordContract({
  openFresh,
  freshFixture,
  closeLater,
}: UsageRecordContractHooks): void {
  it('keeps every usage record of a reused request id, oldest first (by start, then record id)', async () => {
    const { store } = await openFresh();
    const later = usageRecord({ recordId: 'rec-b', startedAt: timestampFromMs(T0 + 5), statusCode: 500 });
    const first = usageRecord({ recordId: 'rec-z', startedAt: timestampFromMs(T0) });
    const tie = usageRecord({ recordId: 'rec-c', startedAt: timestampFromMs(T0 + 5) });
    expect(await store.ingest([usage(later), usage(first), usage(tie)], T0 + 100)).toEqual({
      storedAudit: 0,
      storedUsage: 3,
      duplicates: 0,
    });
    expect(await store.usageForRequest('req-1')).toEqual([first, later, tie]);
  });

  it('stores a re-shipped copy of a usage record (same record id) once, the first copy wins', async () => {
    const { store } = await openFresh();
    const record = usageRecord({ recordId: 'rec-1' });
    expect(await store.ingest([usage(record)], T0)).toEqual({
      storedAudit: 0,
      storedUsage: 1,
      duplicates: 0,
    });
    const copy = usageRecord({ recordId: 'rec-1', statusCode: 499 });
    expect(await store.ingest([usage(copy), usage(record)], T0 + 1)).toEqual({
      storedAudit: 0,
      storedUsage: 0,
      duplicates: 2,
    });
    expect(await store.usageForRequest('req-1')).toEqual([record]);
  });

  it('keys a usage record without record_id (older data planes) by its request id, as before', async () => {
    const { store } = await openFresh();
    const legacy = usageRecord({ recordId: '' });
    const legacyRepeat = usageRecord({ recordId: '', statusCode: 502 });
    expect(await store.ingest([usage(legacy), usage(legacyRepeat)], T0)).toEqual({
      storedAudit: 0,
      storedUsage: 1,
      duplicates: 1,
    });
    // It comes back with its key as its record id.
    expect(await store.usageForRequest('req-1')).toEqual([usageRecord({ recordId: 'req-1' })]);
    const current = usageRecord({ recordId: 'rec-new', startedAt: timestampFromMs(T0 + 1) });
    expect(await store.ingest([usage(current)], T0 + 1)).toMatchObject({ storedUsage: 1 });
    expect((await store.usageForRequest('req-1')).map((record) => record.recordId)).toEqual([
      'req-1',
      'rec-new',
    ]);
  });

  it('answers at most MAX_USAGE_RECORDS_PER_REQUEST usage records and MAX_EVENTS_PER_REQUEST events', async () => {
    const { store } = await openFresh();
    const records = Array.from({ length: MAX_USAGE_RECORDS_PER_REQUEST + 1 }, (_, index) =>
      usageRecord({
        recordId: `rec-${String(index).padStart(4, '0')}`,
        startedAt: timestampFromMs(T0 + index),
      }),
    );
    const events = Array.from({ length: MAX_EVENTS_PER_REQUEST + 1 }, (_, index) =>
      auditEvent({ eventId: `evt-${String(index).padStart(5, '0')}`, atMs: T0 + index }),
    );
    await store.ingest([...records.map(usage), ...events.map(audit)], T0);
    expect(await store.usageForRequest('req-1')).toEqual(records.slice(0, MAX_USAGE_RECORDS_PER_REQUEST));
    const found = await store.eventsForRequest('req-1');
    expect(found).toHaveLength(MAX_EVENTS_PER_REQUEST);
    expect(found.at(-1)).toEqual(events[MAX_EVENTS_PER_REQUEST - 1]);
  });

  it('migrates the usage records of schema version 3: kept, keyed by their request id', async () => {
    const fixture = await freshFixture();
    const old = [
      usageRecord({ requestId: 'old-1', recordId: '' }),
      usageRecord({
        requestId: 'old-2',
        recordId: '',
        statusCode: 502,
        startedAt: timestampFromMs(T0 + 1),
      }),
    ];
    await fixture.atSchemaVersion(
      3,
      old.map((record, index) => ({
        sql: `INSERT INTO usage_records (request_id, tenant_id, started_at_ms, status_code, data_plane_id,
                received_at_ms, record)
              VALUES (?, ?, ?, ?, ?, ?, ?)`,
        parameters: [
          record.requestId,
          record.tenantId,
          T0 + index,
          record.statusCode,
          record.dataPlaneId,
          T0 + 100,
          Buffer.from(toBinary(UsageRecordSchema, record)),
        ],
      })),
    );
    const store = await fixture.open();
    closeLater(store);

    expect(await store.usageForRequest('old-1')).toEqual([
      usageRecord({ requestId: 'old-1', recordId: 'old-1' }),
    ]);
    // A re-shipped copy of an old record is still a duplicate; a new record of its request id is stored.
    const reused = usageRecord({
      requestId: 'old-1',
      recordId: 'rec-new',
      startedAt: timestampFromMs(T0 + 10),
    });
    expect(await store.ingest([usage(old[0]!), usage(reused)], T0 + 200)).toEqual({
      storedAudit: 0,
      storedUsage: 1,
      duplicates: 1,
    });
    expect((await store.usageForRequest('old-1')).map((record) => record.recordId)).toEqual([
      'old-1',
      'rec-new',
    ]);
    // Retention still finds them by start time.
    expect(await store.prune(T0 + 5, 10)).toEqual({ audit: 0, usage: 2 });
    expect(await store.usageForRequest('old-2')).toEqual([]);
    expect(await store.usageForRequest('old-1')).toEqual([reused]);
  });
}
