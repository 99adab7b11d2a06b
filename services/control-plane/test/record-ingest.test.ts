import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport } from '@connectrpc/connect-node';
import { AdminService, AuditEventKind, RecordIngestService, type UsageRecord } from '@api-router/contracts';
import { testServices } from '@api-router/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { auditEvent, usageRecord } from '../src/audit/audit-store-contract.test-support.js';
import { SQLITE_AUDIT_FILE } from '../src/audit/open-audit-store.js';
import { openSqliteAuditStore } from '../src/audit/sqlite-audit-store.js';
import { VIEWER_TOKEN } from './config-yaml.js';
import { startTestControlPlane, type TestControlPlane } from './start-test-control-plane.js';

async function codeOf(call: Promise<unknown>): Promise<Code | 'ok'> {
  try {
    await call;
    return 'ok';
  } catch (error: unknown) {
    return ConnectError.from(error).code;
  }
}

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

const batch = {
  dataPlaneId: 'dp-1',
  records: [
    {
      key: 'req-1',
      outboxSeq: 1n,
      record: { case: 'audit' as const, value: auditEvent({ kind: AuditEventKind.BUDGET_DENIED }) },
    },
    { key: 'req-1', outboxSeq: 2n, record: { case: 'usage' as const, value: usageRecord() } },
  ],
};

/** Ingest the way data planes do (gRPC on the HTTP/2 port, no token) and look up the way admins do. */
function clients(running: TestControlPlane) {
  const ingest = createClient(
    RecordIngestService,
    createGrpcTransport({ baseUrl: running.controlPlane.grpcUrl }),
  );
  const admin = createClient(
    AdminService,
    createConnectTransport({ baseUrl: running.controlPlane.httpUrl, httpVersion: '1.1' }),
  );
  return { ingest, admin };
}

describe('audit ingest and lookup through a running control plane', () => {
  let running: TestControlPlane | undefined;
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await running?.[Symbol.asyncDispose]();
    running = undefined;
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  it('prunes records older than CP_RECORD_RETENTION_DAYS when it starts, and keeps the newer ones', async () => {
    const now = Date.now();
    const daysAgo = (days: number): number => now - days * 86_400_000;
    running = await startTestControlPlane({ recordRetentionMs: 30 * 86_400_000 }, {}, async (stateDir) => {
      const store = await openSqliteAuditStore({ path: join(stateDir, SQLITE_AUDIT_FILE) });
      await store.ingest(
        [
          { type: 'audit', event: auditEvent({ eventId: 'old-evt', requestId: 'old', atMs: daysAgo(31) }) },
          {
            type: 'usage',
            usage: usageRecord({ requestId: 'old', startedAt: timestampFromMs(daysAgo(31)) }),
          },
          { type: 'audit', event: auditEvent({ eventId: 'new-evt', requestId: 'new', atMs: daysAgo(1) }) },
          { type: 'usage', usage: usageRecord({ requestId: 'new', startedAt: timestampFromMs(daysAgo(1)) }) },
        ],
        now,
      );
      await store.close();
    });
    const { admin } = clients(running);
    await expect
      .poll(() => codeOf(admin.getRequestAudit({ requestId: 'old' }, bearer(VIEWER_TOKEN))), {
        timeout: 10_000,
      })
      .toBe(Code.NotFound);
    const kept = await admin.getRequestAudit({ requestId: 'new' }, bearer(VIEWER_TOKEN));
    expect(kept.events).toHaveLength(1);
    expect(kept.usage?.requestId).toBe('new');
    const metrics = await (await fetch(`${running.controlPlane.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/^router_cp_records_pruned_total\{type="audit"[^}]*\} 1$/m);
    expect(metrics).toMatch(/^router_cp_records_pruned_total\{type="usage"[^}]*\} 1$/m);
  });

  it('ingests without a token, stores once per record, and serves the lookup to viewers only', async () => {
    running = await startTestControlPlane();
    const { ingest, admin } = clients(running);

    expect(await ingest.ingestRecords(batch)).toMatchObject({ stored: 2, duplicates: 0 });
    expect(await ingest.ingestRecords(batch)).toMatchObject({ stored: 0, duplicates: 2 });
    expect(existsSync(join(running.stateDir, SQLITE_AUDIT_FILE))).toBe(true);

    expect(await codeOf(admin.getRequestAudit({ requestId: 'req-1' }))).toBe(Code.Unauthenticated);
    expect(await codeOf(admin.listAuditEvents({}))).toBe(Code.Unauthenticated);
    const found = await admin.getRequestAudit({ requestId: 'req-1' }, bearer(VIEWER_TOKEN));
    expect(found.events.map((event) => event.kind)).toEqual([AuditEventKind.BUDGET_DENIED]);
    expect(found.usage?.costMicros).toBe(5600n);
    const listed = await admin.listAuditEvents({ tenantId: 'tenant-a' }, bearer(VIEWER_TOKEN));
    expect(listed.events).toHaveLength(1);
    expect(await codeOf(admin.getRequestAudit({ requestId: 'req-2' }, bearer(VIEWER_TOKEN)))).toBe(
      Code.NotFound,
    );

    const metrics = await (await fetch(`${running.controlPlane.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/^router_cp_records_ingested_total\{type="audit"[^}]*\} 1$/m);
    expect(metrics).toMatch(/^router_cp_records_ingested_total\{type="usage"[^}]*\} 1$/m);
    expect(metrics).toMatch(/^router_cp_records_duplicate_total\{[^}]*\} 2$/m);
  });

  it('answers curl-style JSON: 401 without a token, 404 with a message for an unknown request id', async () => {
    running = await startTestControlPlane();
    const url = `${running.controlPlane.httpUrl}/router.v1.AdminService/GetRequestAudit`;
    const post = (headers: Record<string, string>) =>
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ requestId: 'req-404' }),
      });
    expect((await post({})).status).toBe(401);
    const missing = await post({ authorization: `Bearer ${VIEWER_TOKEN}` });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { message: string }).message).toContain('req-404');
  });

  it('keeps the records across a restart (SQLite file in the state dir)', async () => {
    const first = await startTestControlPlane();
    // Removes the state dir, after the second control plane is gone.
    cleanups.push(async () => {
      await first[Symbol.asyncDispose]();
    });
    await clients(first).ingest.ingestRecords(batch);
    await first.controlPlane[Symbol.asyncDispose]();
    running = await startTestControlPlane({ stateDir: first.stateDir });
    const found = await clients(running).admin.getRequestAudit({ requestId: 'req-1' }, bearer(VIEWER_TOKEN));
    expect(found.events).toHaveLength(1);
  });

  /** A fresh database on the test Postgres, dropped after the test. */
  async function freshDatabase(): Promise<URL> {
    const adminUrl = testServices().DATABASE_URL;
    const name = `audit_cp_${randomBytes(6).toString('hex')}`;
    const database = new pg.Client({ connectionString: adminUrl });
    await database.connect();
    await database.query(`CREATE DATABASE ${name}`);
    cleanups.push(async () => {
      await database.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await database.end();
    });
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    return url;
  }

  it('uses Postgres when CP_DATABASE_URL is set', async () => {
    const url = await freshDatabase();
    running = await startTestControlPlane({ databaseUrl: url.toString() });
    const { ingest, admin } = clients(running);
    expect(await ingest.ingestRecords(batch)).toMatchObject({ stored: 2 });
    expect(existsSync(join(running.stateDir, SQLITE_AUDIT_FILE))).toBe(false);
    const direct = new pg.Client({ connectionString: url.toString() });
    await direct.connect();
    const counts = await direct.query(
      'SELECT (SELECT count(*) FROM audit_events)::int AS events, (SELECT count(*) FROM usage_records)::int AS usages',
    );
    await direct.end();
    expect(counts.rows).toEqual([{ events: 1, usages: 1 }]);
    const found = await admin.getRequestAudit({ requestId: 'req-1' }, bearer(VIEWER_TOKEN));
    expect(found.events).toHaveLength(1);
    expect(found.usage?.requestId).toBe('req-1');
  });

  // SQLite stores these; Postgres refuses each (TEXT cannot hold NUL, INTEGER stops at 2^31 - 1, BIGINT
  // milliseconds at year 292 million). Failing the whole batch UNAVAILABLE made the data plane's outbox
  // re-send it for ever, and nothing that data plane recorded after it ever arrived.
  it.each([
    ['a NUL character in its request id', { requestId: 'req\u0000nul' }],
    ['a status code beyond any HTTP status', { statusCode: 4_000_000_000 }],
    ['a start time out of the timestamp range', { startedAt: { seconds: 10n ** 17n, nanos: 0 } }],
  ])('on Postgres, rejects alone a usage record with %s and stores the rest', async (_name, fields) => {
    const url = await freshDatabase();
    running = await startTestControlPlane({ databaseUrl: url.toString() });
    const { ingest, admin } = clients(running);
    const bad = usageRecord({ recordId: 'rec-bad', ...(fields as Partial<UsageRecord>) });
    const response = await ingest.ingestRecords({
      dataPlaneId: 'dp-1',
      records: [
        { key: 'bad', outboxSeq: 1n, record: { case: 'usage', value: bad } },
        ...batch.records.map((record, index) => ({ ...record, outboxSeq: BigInt(index + 2) })),
      ],
    });
    expect(response.stored).toBe(2);
    expect(response.rejected.map(({ index, key }) => ({ index, key }))).toEqual([{ index: 0, key: 'bad' }]);
    const found = await admin.getRequestAudit({ requestId: 'req-1' }, bearer(VIEWER_TOKEN));
    expect(found.usageRecords).toHaveLength(1);
  });

  it('on Postgres, rejects alone an audit event with a NUL character in an indexed field', async () => {
    const url = await freshDatabase();
    running = await startTestControlPlane({ databaseUrl: url.toString() });
    const { ingest } = clients(running);
    const bad = auditEvent({ eventId: 'ev-bad', tenantId: 'tenant\u0000a' });
    const response = await ingest.ingestRecords({
      dataPlaneId: 'dp-1',
      records: [{ key: 'bad', outboxSeq: 1n, record: { case: 'audit', value: bad } }, ...batch.records],
    });
    expect(response.stored).toBe(2);
    expect(response.rejected.map(({ index }) => index)).toEqual([0]);
  });

  // Postgres refuses a NUL in a text parameter and a BIGINT past its range: the lookup failed UNAVAILABLE
  // ("retry the lookup"), which no retry could change, where SQLite answered. Both now refuse such input.
  it('on Postgres, refuses lookup input no store could match as InvalidArgument, not Unavailable', async () => {
    const url = await freshDatabase();
    running = await startTestControlPlane({ databaseUrl: url.toString() });
    // gRPC (binary): Connect JSON cannot even carry a timestamp past year 9999.
    const admin = createClient(AdminService, createGrpcTransport({ baseUrl: running.controlPlane.grpcUrl }));
    const viewer = bearer(VIEWER_TOKEN);
    expect(await codeOf(admin.getRequestAudit({ requestId: 'req\u0000x' }, viewer))).toBe(
      Code.InvalidArgument,
    );
    expect(await codeOf(admin.listAuditEvents({ tenantId: 'tenant\u0000a' }, viewer))).toBe(
      Code.InvalidArgument,
    );
    expect(await codeOf(admin.listAuditEvents({ since: { seconds: 10n ** 17n, nanos: 0 } }, viewer))).toBe(
      Code.InvalidArgument,
    );
    const nulToken = Buffer.from(JSON.stringify([1, 'evt\u0000'])).toString('base64url');
    expect(await codeOf(admin.listAuditEvents({ pageToken: nulToken }, viewer))).toBe(Code.InvalidArgument);
    expect(await codeOf(admin.listAuditEvents({ tenantId: 'tenant-a' }, viewer))).toBe('ok');
  });

  // The message quoted the whole request id; over gRPC it travels in the grpc-message trailer, and a long
  // one broke the stream (INTERNAL, NGHTTP2_FRAME_SIZE_ERROR) instead of answering.
  it('answers NotFound over gRPC for a very long request id, quoting only its start', async () => {
    running = await startTestControlPlane();
    const admin = createClient(AdminService, createGrpcTransport({ baseUrl: running.controlPlane.grpcUrl }));
    const error = await admin.getRequestAudit({ requestId: 'x'.repeat(100_000) }, bearer(VIEWER_TOKEN)).then(
      () => undefined,
      (caught: unknown) => ConnectError.from(caught),
    );
    expect(error?.code).toBe(Code.NotFound);
    expect(error?.rawMessage).toContain('(100000 characters)');
  });
});
