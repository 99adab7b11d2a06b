import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport } from '@connectrpc/connect-node';
import { AdminService, AuditEventKind, RecordIngestService } from '@api-router/contracts';
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

  it('uses Postgres when CP_DATABASE_URL is set', async () => {
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
});
