import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toBinary } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createClient, createRouterTransport } from '@connectrpc/connect';
import {
  AdminService,
  AuditEventSchema,
  RecordIngestService,
  UsageRecordSchema,
} from '@api-router/contracts';
import { createLogger, createMetricsRegistry } from '@api-router/observability';
import { afterEach, describe, expect, it } from 'vitest';
import { auditEvent, usageRecord } from './audit/audit-store-contract.test-support.js';
import type { AuditStore, StorableRecord } from './audit/audit-store.js';
import { openSqliteAuditStore } from './audit/sqlite-audit-store.js';
import { createAuditAdminHandlers } from './audit-admin-handlers.js';
import { createControlPlaneMetrics } from './control-plane-metrics.js';
import { createErrorInterceptor } from './error-interceptor.js';
import { createRecordIngestService } from './record-ingest-service.js';

const logger = createLogger({ service: 'test', level: 'silent' });

async function harness(storeOverride?: AuditStore) {
  const directory = await mkdtemp(join(tmpdir(), 'ingest-'));
  const store = storeOverride ?? (await openSqliteAuditStore({ path: join(directory, 'audit.sqlite') }));
  const registry = createMetricsRegistry({ defaultLabels: {} });
  const metrics = createControlPlaneMetrics({
    registry,
    countDataPlanes: () => ({ connected: 0, disconnected: 0 }),
  });
  const errors = createErrorInterceptor(logger);
  const transport = createRouterTransport((router) => {
    router.service(
      RecordIngestService,
      createRecordIngestService({ store, clock: { now: () => 1_000 }, metrics, logger }),
      { interceptors: [errors] },
    );
    router.service(AdminService, createAuditAdminHandlers(store, logger), { interceptors: [errors] });
  });
  return {
    ingest: createClient(RecordIngestService, transport),
    admin: createClient(AdminService, transport),
    metric: async (name: string) => (await registry.getSingleMetricAsString(name)).trim(),
    async [Symbol.asyncDispose]() {
      await store.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

async function codeOf(call: Promise<unknown>): Promise<Code | 'ok'> {
  try {
    await call;
    return 'ok';
  } catch (error: unknown) {
    return ConnectError.from(error).code;
  }
}

describe('RecordIngestService', () => {
  const disposables: AsyncDisposable[] = [];
  afterEach(async () => {
    for (const disposable of disposables.splice(0)) await disposable[Symbol.asyncDispose]();
  });
  async function start(store?: AuditStore) {
    const started = await harness(store);
    disposables.push(started);
    return started;
  }

  const batch = {
    dataPlaneId: 'dp-7',
    records: [
      {
        key: 'req-1',
        outboxSeq: 1n,
        record: { case: 'audit' as const, value: auditEvent({ dataPlaneId: '' }) },
      },
      { key: 'req-1', outboxSeq: 2n, record: { case: 'usage' as const, value: usageRecord() } },
    ],
  };

  it('stores a batch once: sending it again only counts duplicates', async () => {
    const { ingest, admin, metric } = await start();
    expect(await ingest.ingestRecords(batch)).toMatchObject({ stored: 2, duplicates: 0, rejected: [] });
    expect(await ingest.ingestRecords(batch)).toMatchObject({ stored: 0, duplicates: 2, rejected: [] });

    const found = await admin.getRequestAudit({ requestId: 'req-1' });
    expect(found.events).toHaveLength(1);
    expect(found.events[0]?.dataPlaneId).toBe('dp-7'); // filled in from the sender
    expect(found.usage?.dataPlaneId).toBe('dp-1'); // its own kept
    expect(found.usageRecords).toEqual([found.usage]);
    expect(await metric('router_cp_records_ingested_total')).toContain(
      'router_cp_records_ingested_total{type="audit"} 1',
    );
    expect(await metric('router_cp_records_ingested_total')).toContain(
      'router_cp_records_ingested_total{type="usage"} 1',
    );
    expect(await metric('router_cp_records_duplicate_total')).toMatch(/router_cp_records_duplicate_total 2$/);
  });

  it('rejects records that can never be stored, one by one, and stores the rest', async () => {
    const { ingest, admin, metric } = await start();
    const response = await ingest.ingestRecords({
      dataPlaneId: 'dp-7',
      records: [
        { key: 'req-x', outboxSeq: 1n },
        { key: 'req-y', outboxSeq: 2n, record: { case: 'audit', value: auditEvent({ eventId: '' }) } },
        { key: 'req-z', outboxSeq: 3n, record: { case: 'usage', value: usageRecord({ requestId: '' }) } },
        { key: 'req-1', outboxSeq: 4n, record: { case: 'audit', value: auditEvent({}) } },
      ],
    });
    expect(response.stored).toBe(1);
    expect(response.rejected.map(({ index, key, reason }) => ({ index, key, reason }))).toEqual([
      { index: 0, key: 'req-x', reason: 'record has neither usage nor audit' },
      { index: 1, key: 'req-y', reason: 'audit event without event_id' },
      { index: 2, key: 'req-z', reason: 'usage record without request_id' },
    ]);
    expect(await metric('router_cp_records_rejected_total')).toMatch(/router_cp_records_rejected_total 3$/);
    expect((await admin.getRequestAudit({ requestId: 'req-1' })).events).toHaveLength(1);
  });

  it('stores encoded records (usage_bytes / audit_bytes) as the very bytes sent, unknown fields included', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'ingest-bytes-'));
    const sqlite = await openSqliteAuditStore({ path: join(directory, 'audit.sqlite') });
    const received: StorableRecord[] = [];
    const { ingest, admin } = await start({
      ...sqlite,
      ingest: (records, receivedAtMs) => {
        received.push(...records);
        return sqlite.ingest(records, receivedAtMs);
      },
      close: () => sqlite.close().then(() => rm(directory, { recursive: true, force: true })),
    });
    // A field this build does not know (number 999, varint 7), as a newer data plane could send.
    const unknownField = Uint8Array.of(0xb8, 0x3e, 0x07);
    const usageBytes = Buffer.concat([toBinary(UsageRecordSchema, usageRecord()), unknownField]);
    const auditBytes = toBinary(AuditEventSchema, auditEvent({ dataPlaneId: 'dp-3' }));
    const response = await ingest.ingestRecords({
      dataPlaneId: 'dp-7',
      records: [
        { key: 'req-1', outboxSeq: 1n, record: { case: 'usageBytes', value: usageBytes } },
        { key: 'req-1', outboxSeq: 2n, record: { case: 'auditBytes', value: auditBytes } },
      ],
    });
    expect(response).toMatchObject({ stored: 2, duplicates: 0, rejected: [] });
    expect(received.map((record) => Buffer.from(record.encoded ?? []).toString('hex'))).toEqual([
      usageBytes.toString('hex'),
      Buffer.from(auditBytes).toString('hex'),
    ]);
    const found = await admin.getRequestAudit({ requestId: 'req-1' });
    expect(found.usage?.requestId).toBe('req-1');
    expect(Buffer.from(toBinary(UsageRecordSchema, found.usage!)).equals(usageBytes)).toBe(true);
    expect(found.events.map((event) => event.dataPlaneId)).toEqual(['dp-3']);
  });

  it('decodes encoded records: one that does not decode is rejected alone, one without data_plane_id gets the sender’s', async () => {
    const { ingest, admin } = await start();
    const withoutDataPlane = toBinary(AuditEventSchema, auditEvent({ dataPlaneId: '' }));
    const response = await ingest.ingestRecords({
      dataPlaneId: 'dp-7',
      records: [
        { key: 'req-x', outboxSeq: 1n, record: { case: 'usageBytes', value: Uint8Array.of(0x0a, 0x05) } },
        { key: 'req-y', outboxSeq: 2n, record: { case: 'auditBytes', value: Uint8Array.of(0xff) } },
        { key: 'req-1', outboxSeq: 3n, record: { case: 'auditBytes', value: withoutDataPlane } },
      ],
    });
    expect(response.stored).toBe(1);
    expect(response.rejected.map(({ index, reason }) => ({ index, reason }))).toEqual([
      { index: 0, reason: expect.stringMatching(/^usage_bytes do not decode as a UsageRecord: /) as string },
      { index: 1, reason: expect.stringMatching(/^audit_bytes do not decode as an AuditEvent: /) as string },
    ]);
    const found = await admin.getRequestAudit({ requestId: 'req-1' });
    expect(found.events.map((event) => event.dataPlaneId)).toEqual(['dp-7']);
  });

  it('fails the whole batch as UNAVAILABLE when the store fails, so the outbox retries it', async () => {
    const failing: AuditStore = {
      ingest: () => Promise.reject(new Error('disk I/O error')),
      eventsForRequest: () => Promise.resolve([]),
      usageForRequest: () => Promise.resolve([]),
      list: () => Promise.resolve({ events: [], next: undefined }),
      prune: () => Promise.resolve({ audit: 0, usage: 0 }),
      close: () => Promise.resolve(),
    };
    const { ingest } = await start(failing);
    const error = await ingest.ingestRecords(batch).catch((caught: unknown) => ConnectError.from(caught));
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.Unavailable);
    expect((error as ConnectError).rawMessage).not.toContain('disk I/O');
  });

  it('answers lookups UNAVAILABLE, not INTERNAL, when the store fails', async () => {
    const down = () => Promise.reject(new Error('connection terminated unexpectedly'));
    const failing: AuditStore = {
      ingest: down,
      eventsForRequest: down,
      usageForRequest: down,
      list: down,
      prune: down,
      close: () => Promise.resolve(),
    };
    const { admin } = await start(failing);
    expect(await codeOf(admin.getRequestAudit({ requestId: 'req-1' }))).toBe(Code.Unavailable);
    expect(await codeOf(admin.listAuditEvents({}))).toBe(Code.Unavailable);
    const error = await admin.listAuditEvents({}).catch((caught: unknown) => ConnectError.from(caught));
    expect((error as ConnectError).rawMessage).not.toContain('connection terminated');
  });
});

describe('audit lookups', () => {
  const disposables: AsyncDisposable[] = [];
  afterEach(async () => {
    for (const disposable of disposables.splice(0)) await disposable[Symbol.asyncDispose]();
  });

  it('answers NotFound with an explanation for a request id with nothing recorded, InvalidArgument for none', async () => {
    const started = await harness();
    disposables.push(started);
    const error = await started.admin
      .getRequestAudit({ requestId: 'req-unknown' })
      .catch((caught: unknown) => ConnectError.from(caught));
    expect((error as ConnectError).code).toBe(Code.NotFound);
    expect((error as ConnectError).rawMessage).toContain('nothing is recorded for request id "req-unknown"');
    expect(await codeOf(started.admin.getRequestAudit({ requestId: '' }))).toBe(Code.InvalidArgument);
  });

  it('finds a request that has only a usage record', async () => {
    const started = await harness();
    disposables.push(started);
    await started.ingest.ingestRecords({
      records: [{ key: 'req-1', record: { case: 'usage', value: usageRecord() } }],
    });
    const found = await started.admin.getRequestAudit({ requestId: 'req-1' });
    expect(found.events).toEqual([]);
    expect(found.usage?.requestId).toBe('req-1');
  });

  it('answers every usage record of a reused request id; `usage` is the first of them', async () => {
    const started = await harness();
    disposables.push(started);
    const first = usageRecord({ recordId: 'rec-1', startedAt: timestampFromMs(1_000) });
    const second = usageRecord({ recordId: 'rec-2', startedAt: timestampFromMs(2_000), statusCode: 502 });
    const response = await started.ingest.ingestRecords({
      records: [
        { key: 'req-1', record: { case: 'usageBytes', value: toBinary(UsageRecordSchema, second) } },
        { key: 'req-1', record: { case: 'usageBytes', value: toBinary(UsageRecordSchema, first) } },
      ],
    });
    expect(response).toMatchObject({ stored: 2, duplicates: 0 });
    const found = await started.admin.getRequestAudit({ requestId: 'req-1' });
    expect(found.usageRecords).toEqual([first, second]);
    expect(found.usage).toEqual(first);
  });

  it('rejects a record id longer than 256 characters', async () => {
    const started = await harness();
    disposables.push(started);
    const response = await started.ingest.ingestRecords({
      records: [
        { key: 'req-1', record: { case: 'usage', value: usageRecord({ recordId: 'r'.repeat(257) }) } },
      ],
    });
    expect(response.rejected.map(({ reason }) => reason)).toEqual(['record_id longer than 256 characters']);
  });

  it('pages ListAuditEvents with opaque tokens and refuses a forged one', async () => {
    const started = await harness();
    disposables.push(started);
    await started.ingest.ingestRecords({
      records: Array.from({ length: 5 }, (_, index) => ({
        key: `req-${index}`,
        record: {
          case: 'audit' as const,
          value: auditEvent({ eventId: `evt-${index}`, requestId: `req-${index}`, atMs: 1_000 + index }),
        },
      })),
    });
    const first = await started.admin.listAuditEvents({ pageSize: 2 });
    expect(first.events.map((event) => event.eventId)).toEqual(['evt-4', 'evt-3']);
    const second = await started.admin.listAuditEvents({ pageSize: 2, pageToken: first.nextPageToken });
    expect(second.events.map((event) => event.eventId)).toEqual(['evt-2', 'evt-1']);
    const last = await started.admin.listAuditEvents({ pageSize: 2, pageToken: second.nextPageToken });
    expect(last.events.map((event) => event.eventId)).toEqual(['evt-0']);
    expect(last.nextPageToken).toBe('');
    expect((await started.admin.listAuditEvents({})).events).toHaveLength(5);
    expect(await codeOf(started.admin.listAuditEvents({ pageToken: 'not-a-token' }))).toBe(
      Code.InvalidArgument,
    );
  });
});
