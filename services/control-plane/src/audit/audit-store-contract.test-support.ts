import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { AuditEventKind, type AuditEvent } from '@api-router/contracts';
import { afterEach, describe, expect, it } from 'vitest';
import type { AdminChangeLog } from './admin-change-log.js';
import type { AuditStore, StorableRecord } from './audit-store.js';
import {
  T0,
  audit,
  auditEvent,
  usage,
  usageRecord,
  type AuditStoreFixture,
} from './audit-records.test-support.js';
import { describeUsageRecordContract } from './usage-record-contract.test-support.js';

export {
  auditEvent,
  usageRecord,
  type AuditStoreFixture,
  type SqlStatement,
} from './audit-records.test-support.js';

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

    async function freshFixture(): Promise<AuditStoreFixture> {
      const fixture = await createFixture();
      cleanups.push(async () => {
        await fixture[Symbol.asyncDispose]();
      });
      return fixture;
    }
    const closeLater = (store: AuditStore): void => {
      cleanups.push(() => store.close());
    };
    async function openFresh(): Promise<{
      store: AuditStore & AdminChangeLog;
      fixture: AuditStoreFixture;
    }> {
      const fixture = await freshFixture();
      const store = await fixture.open();
      closeLater(store);
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

    describeUsageRecordContract({ openFresh, freshFixture, closeLater });
    describeListContract(openFresh);
    describeChangeLogContract(openFresh, closeLater);
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
