import { create, toBinary } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import {
  AuditEventKind,
  AuditEventSchema,
  UsageRecordSchema,
  type AuditEvent,
  type UsageRecord,
} from '@api-router/contracts';
import { afterEach, describe, expect, it } from 'vitest';
import type { AdminChangeLog } from './admin-change-log.js';
import {
  MAX_EVENTS_PER_REQUEST,
  MAX_USAGE_RECORDS_PER_REQUEST,
  type AuditStore,
  type StorableRecord,
} from './audit-store.js';

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

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

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

const audit = (event: AuditEvent): StorableRecord => ({ type: 'audit', event });
const usage = (record: UsageRecord): StorableRecord => ({ type: 'usage', usage: record });

/**
 * The behaviour every AuditStore implementation must have. Run it once per implementation:
 * SQLite in the unit project, Postgres in the integration project.
 */
export function describeAuditStoreContract(
  name: string,
  createFixture: () => Promise<AuditStoreFixture>,
): void {
  describe(`AuditStore contract: ${name}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    async function openFresh(): Promise<{
      store: AuditStore & AdminChangeLog;
      fixture: AuditStoreFixture;
    }> {
      const fixture = await createFixture();
      cleanups.push(async () => {
        await fixture[Symbol.asyncDispose]();
      });
      const store = await fixture.open();
      cleanups.push(() => store.close());
      return { store, fixture };
    }

    it('stores audit events and usage records and returns them as they were sent', async () => {
      const { store } = await openFresh();
      const first = auditEvent({ eventId: 'evt-1', kind: AuditEventKind.QUEUED, atMs: T0 });
      const second = auditEvent({ eventId: 'evt-2', kind: AuditEventKind.QUEUE_TIMED_OUT, atMs: T0 + 5 });
      const other = auditEvent({ eventId: 'evt-3', requestId: 'req-2' });
      const record = usageRecord();

      const outcome = await store.ingest(
        [audit(second), usage(record), audit(first), audit(other)],
        T0 + 100,
      );

      expect(outcome).toEqual({ storedAudit: 3, storedUsage: 1, duplicates: 0 });
      expect(await store.eventsForRequest('req-1')).toEqual([first, second]);
      expect(await store.eventsForRequest('req-2')).toEqual([other]);
      expect(await store.usageForRequest('req-1')).toEqual([record]);
    });

    it('answers empty for an unknown request id', async () => {
      const { store } = await openFresh();
      await store.ingest([audit(auditEvent({}))], T0);
      expect(await store.eventsForRequest('nope')).toEqual([]);
      expect(await store.usageForRequest('nope')).toEqual([]);
    });

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
      const fixture = await createFixture();
      cleanups.push(async () => {
        await fixture[Symbol.asyncDispose]();
      });
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
      cleanups.push(() => store.close());

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

    it('is idempotent: the same batch twice stores each record once, the first copy wins', async () => {
      const { store } = await openFresh();
      const batch = [audit(auditEvent({ eventId: 'evt-1' })), usage(usageRecord())];
      expect(await store.ingest(batch, T0)).toEqual({ storedAudit: 1, storedUsage: 1, duplicates: 0 });
      expect(await store.ingest(batch, T0 + 1)).toEqual({ storedAudit: 0, storedUsage: 0, duplicates: 2 });

      const changed = [
        audit(auditEvent({ eventId: 'evt-1', message: 'changed' })),
        usage(usageRecord({ statusCode: 500 })),
      ];
      expect(await store.ingest(changed, T0 + 2)).toEqual({ storedAudit: 0, storedUsage: 0, duplicates: 2 });
      expect(await store.eventsForRequest('req-1')).toEqual([auditEvent({ eventId: 'evt-1' })]);
      expect((await store.usageForRequest('req-1')).map((record) => record.statusCode)).toEqual([200]);
    });

    it('counts a record repeated inside one batch as a duplicate', async () => {
      const { store } = await openFresh();
      const event = audit(auditEvent({ eventId: 'evt-1' }));
      const record = usage(usageRecord());
      expect(await store.ingest([event, record, event, record], T0)).toEqual({
        storedAudit: 1,
        storedUsage: 1,
        duplicates: 2,
      });
      expect(await store.eventsForRequest('req-1')).toHaveLength(1);
    });

    it('accepts an empty batch', async () => {
      const { store } = await openFresh();
      expect(await store.ingest([], T0)).toEqual({ storedAudit: 0, storedUsage: 0, duplicates: 0 });
    });

    it('keeps what it stored across close and reopen (migrations run once)', async () => {
      const { store, fixture } = await openFresh();
      await store.ingest([audit(auditEvent({})), usage(usageRecord())], T0);
      await store.close();
      const reopened = await fixture.open();
      cleanups.push(() => reopened.close());
      expect(await reopened.eventsForRequest('req-1')).toEqual([auditEvent({})]);
      expect(await reopened.usageForRequest('req-1')).toEqual([usageRecord()]);
    });

    it("prunes records older than a time, at most `limit` per table, never operators' changes", async () => {
      const { store } = await openFresh();
      const old = (index: number): StorableRecord[] => [
        audit(
          auditEvent({ eventId: `old-evt-${String(index)}`, requestId: `old-${String(index)}`, atMs: T0 }),
        ),
        usage(usageRecord({ requestId: `old-${String(index)}`, startedAt: timestampFromMs(T0) })),
      ];
      const recent = [
        audit(auditEvent({ eventId: 'new-evt', requestId: 'new', atMs: T0 + 10_000 })),
        usage(usageRecord({ requestId: 'new', startedAt: timestampFromMs(T0 + 10_000) })),
      ];
      const operatorChange = audit(changeEvent('change-evt', 'change-evt', 'intent', T0));
      await store.ingest([...old(1), ...old(2), ...old(3), ...recent, operatorChange], T0 + 20_000);

      expect(await store.prune(T0 + 10_000, 2)).toEqual({ audit: 2, usage: 2 });
      expect(await store.prune(T0 + 10_000, 2)).toEqual({ audit: 1, usage: 1 });
      expect(await store.prune(T0 + 10_000, 2)).toEqual({ audit: 0, usage: 0 });
      for (const requestId of ['old-1', 'old-2', 'old-3']) {
        expect(await store.eventsForRequest(requestId)).toEqual([]);
        expect(await store.usageForRequest(requestId)).toEqual([]);
      }
      expect(await store.eventsForRequest('new')).toHaveLength(1);
      expect(await store.usageForRequest('new')).toHaveLength(1);
      expect(await store.eventsForRequest('change-evt')).toHaveLength(1);
    });

    describeListContract(openFresh);
    describeChangeLogContract(openFresh, (store) => cleanups.push(() => store.close()));
  });
}

/** An ADMIN_CHANGE event of change `changeId` (request id = the intent's event id, as the budget admin does). */
function changeEvent(eventId: string, intentEventId: string, phase: string, atMs = T0): AuditEvent {
  return auditEvent({
    eventId,
    requestId: intentEventId,
    kind: AuditEventKind.ADMIN_CHANGE,
    reasonCode: 'budget_top_up',
    attributes: { phase },
    atMs,
  });
}

function describeChangeLogContract(
  openFresh: () => Promise<{ store: AuditStore & AdminChangeLog; fixture: AuditStoreFixture }>,
  closeLater: (store: AuditStore) => void,
): void {
  it('records an intent once per change id; the change stays open until its outcome', async () => {
    const { store } = await openFresh();
    const intent = changeEvent('intent-1', 'intent-1', 'intent');
    expect(await store.recordIntent('change-1', intent, T0)).toEqual({
      stored: true,
      change: { changeId: 'change-1', intent, outcome: undefined, intentStoredAtMs: T0 },
    });
    const replayed = changeEvent('intent-2', 'intent-2', 'intent');
    expect(await store.recordIntent('change-1', replayed, T0 + 5)).toEqual({
      stored: false,
      change: { changeId: 'change-1', intent, outcome: undefined, intentStoredAtMs: T0 },
    });
    expect(await store.eventsForRequest('intent-1')).toEqual([intent]);
    expect(await store.eventsForRequest('intent-2')).toEqual([]);
    expect(await store.findChange('change-1')).toMatchObject({ intent, outcome: undefined });
    expect(await store.findChange('nope')).toBeUndefined();
  });

  it('stores exactly one outcome per change; a later one gets the first back', async () => {
    const { store } = await openFresh();
    const intent = changeEvent('intent-1', 'intent-1', 'intent');
    await store.recordIntent('change-1', intent, T0);
    const applied = changeEvent('outcome-1', 'intent-1', 'applied', T0 + 1);
    const abandoned = changeEvent('outcome-2', 'intent-1', 'not_applied', T0 + 2);
    expect(await store.recordOutcome('change-1', applied, T0 + 1)).toEqual({
      stored: true,
      outcome: applied,
    });
    expect(await store.recordOutcome('change-1', abandoned, T0 + 2)).toEqual({
      stored: false,
      outcome: applied,
    });
    expect(await store.eventsForRequest('intent-1')).toEqual([intent, applied]);
    expect(await store.findChange('change-1')).toMatchObject({ intent, outcome: applied });
    expect(await store.openChanges(T0 + 100, 10)).toEqual([]);
    await expect(store.recordOutcome('no-such-change', abandoned, T0)).rejects.toThrow(/no intent/);
  });

  it('two control planes recording outcomes at once store exactly one', async () => {
    const { store, fixture } = await openFresh();
    const other = await fixture.open();
    closeLater(other);
    const intent = changeEvent('intent-1', 'intent-1', 'intent');
    await store.recordIntent('change-1', intent, T0);
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, index) =>
        (index % 2 === 0 ? store : other).recordOutcome(
          'change-1',
          changeEvent(`outcome-${String(index)}`, 'intent-1', 'applied'),
          T0 + 1,
        ),
      ),
    );
    expect(results.filter((result) => result.stored)).toHaveLength(1);
    expect(new Set(results.map((result) => result.outcome.eventId)).size).toBe(1);
    expect(await store.eventsForRequest('intent-1')).toHaveLength(2);
  });

  it('lists open changes stored at or before a time, oldest first, at most `limit`', async () => {
    const { store } = await openFresh();
    for (const [index, storedAtMs] of [T0 + 30, T0 + 10, T0 + 20, T0 + 40].entries()) {
      const id = `intent-${String(index)}`;
      await store.recordIntent(`change-${String(index)}`, changeEvent(id, id, 'intent'), storedAtMs);
    }
    await store.recordOutcome('change-2', changeEvent('outcome-2', 'intent-2', 'applied'), T0 + 50);
    const open = await store.openChanges(T0 + 30, 10);
    expect(open.map((change) => [change.changeId, change.intentStoredAtMs])).toEqual([
      ['change-1', T0 + 10],
      ['change-0', T0 + 30],
    ]);
    expect(open[0]!.intent.eventId).toBe('intent-1');
    expect((await store.openChanges(T0 + 100, 2)).map((change) => change.changeId)).toEqual([
      'change-1',
      'change-0',
    ]);
  });

  it('refuses an intent whose event id is already another event, storing nothing', async () => {
    const { store } = await openFresh();
    await store.ingest([audit(auditEvent({ eventId: 'taken' }))], T0);
    await expect(store.recordIntent('change-1', changeEvent('taken', 'taken', 'intent'), T0)).rejects.toThrow(
      /already stored/,
    );
    expect(await store.findChange('change-1')).toBeUndefined();
    expect(await store.openChanges(T0 + 1, 10)).toEqual([]);
  });
}

function describeListContract(openFresh: () => Promise<{ store: AuditStore }>): void {
  // Ten events: two tenants, two kinds, some sharing one millisecond (ties are ordered by event_id).
  const events = Array.from({ length: 10 }, (_, index) =>
    auditEvent({
      eventId: `evt-${String(index).padStart(2, '0')}`,
      requestId: `req-${index}`,
      tenantId: index % 2 === 0 ? 'tenant-a' : 'tenant-b',
      kind: index % 3 === 0 ? AuditEventKind.BUDGET_DENIED : AuditEventKind.RATE_LIMITED,
      atMs: T0 + Math.floor(index / 3) * 1000,
    }),
  );
  const newestFirst = [...events].sort((left, right) =>
    right.at!.seconds === left.at!.seconds
      ? right.eventId.localeCompare(left.eventId)
      : Number(right.at!.seconds - left.at!.seconds),
  );

  it('lists newest first, filtered by tenant, kind and time', async () => {
    const { store } = await openFresh();
    await store.ingest(
      events.map((event) => audit(event)),
      T0,
    );
    expect((await store.list({}, { limit: 100 })).events).toEqual(newestFirst);
    expect((await store.list({ tenantId: 'tenant-b' }, { limit: 100 })).events).toEqual(
      newestFirst.filter((event) => event.tenantId === 'tenant-b'),
    );
    expect((await store.list({ kind: AuditEventKind.BUDGET_DENIED }, { limit: 100 })).events).toEqual(
      newestFirst.filter((event) => event.kind === AuditEventKind.BUDGET_DENIED),
    );
    expect(
      (await store.list({ sinceMs: T0 + 2000 }, { limit: 100 })).events.map((event) => event.eventId),
    ).toEqual(['evt-09', 'evt-08', 'evt-07', 'evt-06']);
    expect(
      (
        await store.list(
          { tenantId: 'tenant-a', kind: AuditEventKind.BUDGET_DENIED, sinceMs: T0 + 1 },
          { limit: 100 },
        )
      ).events.map((event) => event.eventId),
    ).toEqual(['evt-06']);
    expect(await store.list({ tenantId: 'tenant-c' }, { limit: 100 })).toEqual({
      events: [],
      next: undefined,
    });
  });

  it('pages through every event exactly once, also across ties in time', async () => {
    const { store } = await openFresh();
    await store.ingest(
      events.map((event) => audit(event)),
      T0,
    );
    const seen: string[] = [];
    let page = await store.list({}, { limit: 3 });
    for (let pages = 1; ; pages += 1) {
      seen.push(...page.events.map((event) => event.eventId));
      if (page.next === undefined) break;
      expect(pages).toBeLessThan(10);
      page = await store.list({}, { limit: 3, after: page.next });
    }
    expect(seen).toEqual(newestFirst.map((event) => event.eventId));

    const exact = await store.list({ tenantId: 'tenant-a' }, { limit: 5 });
    expect(exact.events).toHaveLength(5);
    expect(exact.next).toBeUndefined();
  });
}
