import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import {
  AuditEventKind,
  AuditEventSchema,
  UsageRecordSchema,
  type AuditEvent,
  type UsageRecord,
} from '@api-router/contracts';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuditStore, StorableRecord } from './audit-store.js';

/** One empty database (file, schema…) per test; `open` may be called again on the same one. */
export interface AuditStoreFixture extends AsyncDisposable {
  open(): Promise<AuditStore>;
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

export function usageRecord(init: Partial<Omit<UsageRecord, '$typeName'>> = {}): UsageRecord {
  return create(UsageRecordSchema, {
    requestId: 'req-1',
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

    async function openFresh(): Promise<{ store: AuditStore; fixture: AuditStoreFixture }> {
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
      expect(await store.usageForRequest('req-1')).toEqual(record);
    });

    it('answers empty for an unknown request id', async () => {
      const { store } = await openFresh();
      await store.ingest([audit(auditEvent({}))], T0);
      expect(await store.eventsForRequest('nope')).toEqual([]);
      expect(await store.usageForRequest('nope')).toBeUndefined();
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
      expect((await store.usageForRequest('req-1'))?.statusCode).toBe(200);
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
      expect(await reopened.usageForRequest('req-1')).toEqual(usageRecord());
    });

    describeListContract(openFresh);
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
