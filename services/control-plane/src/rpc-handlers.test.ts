import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { connect, createServer as createHttp2Server, type Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { createLogger } from '@api-router/observability';
import { afterEach, describe, expect, it } from 'vitest';
import { createRpcHandlers, type RpcHandlersOptions } from './rpc-handlers.js';

const TOKEN = 'viewer-secret';

/** The HTTP/1.1 handler with an audit store that records its `list` calls; nothing else is used. */
function handlersWithAuditList(calls: unknown[]) {
  const logger = createLogger({ service: 'test', level: 'silent' });
  const options = {
    policySync: {},
    recordIngest: {
      store: {
        ingest: () => {
          calls.push('ingest');
          return Promise.resolve({ storedAudit: 0, storedUsage: 0, duplicates: 0 });
        },
      },
      clock: { now: () => 0 },
      metrics: {
        recordsIngested: { inc: () => undefined },
        recordsDuplicate: { inc: () => undefined },
        recordsRejected: { inc: () => undefined },
      },
      logger,
    },
    admin: {
      tokens: () => [
        { id: 'viewer-1', sha256: createHash('sha256').update(TOKEN).digest('hex'), role: 'viewer' },
      ],
      auditStore: {
        list: (query: unknown) => {
          calls.push(query);
          return Promise.resolve({ events: [], nextPageToken: '' });
        },
      },
      budgets: {},
      logger,
    },
    shutdownSignal: new AbortController().signal,
    httpFallback: (_request: unknown, response: { writeHead(status: number): { end(): void } }) =>
      response.writeHead(404).end(),
    logger,
  } as unknown as RpcHandlersOptions;
  return createRpcHandlers(options);
}

interface Answer {
  status: number;
  body: { code?: string; message?: string };
}

describe('RPC handlers: AdminService over Connect JSON (curl)', () => {
  let server: Server | Http2Server | undefined;
  afterEach(async () => {
    await new Promise((done) => server?.close(done) ?? done(undefined));
    server = undefined;
  });

  async function post(path: string, body: string, calls: unknown[], token = TOKEN): Promise<Answer> {
    server = createServer(handlersWithAuditList(calls).httpHandler);
    await new Promise<void>((done) => server!.listen(0, '127.0.0.1', done));
    const { port } = server.address() as AddressInfo;
    const response = await fetch(`http://127.0.0.1:${port}/router.v1.${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body,
    });
    const text = await response.text();
    return { status: response.status, body: (text === '' ? {} : JSON.parse(text)) as Answer['body'] };
  }

  /** The same call on the HTTP/2 (h2c) listener, where data planes connect. */
  async function postHttp2(path: string, body: string, calls: unknown[]): Promise<Answer> {
    const http2Server = createHttp2Server(handlersWithAuditList(calls).grpcHandler);
    server = http2Server;
    await new Promise<void>((done) => http2Server.listen(0, '127.0.0.1', done));
    const { port } = http2Server.address() as AddressInfo;
    const session = connect(`http://127.0.0.1:${String(port)}`);
    try {
      return await new Promise<Answer>((resolve, reject) => {
        const request = session.request({
          ':method': 'POST',
          ':path': `/router.v1.${path}`,
          'content-type': 'application/json',
        });
        let status = 0;
        let text = '';
        request.on('response', (headers) => (status = Number(headers[':status'])));
        request.setEncoding('utf8');
        request.on('data', (chunk: string) => (text += chunk));
        request.on('end', () => resolve({ status, body: JSON.parse(text) as Answer['body'] }));
        request.on('error', reject);
        request.end(body);
      });
    } finally {
      // Not close(): a refused body may still be on its way, and close() waits for its stream to end.
      session.destroy();
    }
  }

  const listAuditEvents = (body: string, calls: unknown[]) =>
    post('AdminService/ListAuditEvents', body, calls);

  it('answers a well-formed request', async () => {
    const calls: unknown[] = [];
    const answer = await listAuditEvents(
      '{"tenantId":"acme","kind":"AUDIT_EVENT_KIND_BUDGET_DENIED"}',
      calls,
    );
    expect(answer.status).toBe(200);
    expect(calls).toHaveLength(1);
  });

  it.each([
    ['an unknown field (a typo of tenantId)', '{"tenant":"acme"}', /key "tenant" is unknown/],
    ['an unknown enum name', '{"kind":"BUDGET_DENIED"}', /BUDGET_DENIED/],
  ])('refuses %s with invalid_argument instead of ignoring it', async (_name, body, message) => {
    const calls: unknown[] = [];
    const answer = await listAuditEvents(body, calls);
    expect(answer.status).toBe(400);
    expect(answer.body.code).toBe('invalid_argument');
    expect(answer.body.message).toMatch(message);
    expect(calls).toEqual([]);
  });

  // Connect buffers a unary body whole before any interceptor runs (up to 4 GiB by default): without a
  // limit, anyone reaching the port (no token needed) could make the control plane hold gigabytes.
  it('refuses an admin request body above its limit before reading it, token or not', async () => {
    const calls: unknown[] = [];
    const body = JSON.stringify({ tenantId: 'a'.repeat(2 * 1024 * 1024) });
    const withToken = await listAuditEvents(body, calls);
    expect(withToken.status).toBe(429);
    expect(withToken.body.code).toBe('resource_exhausted');
    await new Promise((done) => server?.close(done));
    const withoutToken = await post('AdminService/ListAuditEvents', body, calls, 'no-such-token');
    expect(withoutToken.body.code).toBe('resource_exhausted');
    expect(calls).toEqual([]);
  });

  it('takes ingest batches up to their own, larger limit, and refuses bigger ones', async () => {
    const calls: unknown[] = [];
    const record = (size: number) =>
      JSON.stringify({ dataPlaneId: 'dp-1', records: [{ key: 'k', auditBytes: 'A'.repeat(size) }] });
    // A data plane's batch: records up to 1 MiB plus one of up to 4 MiB (the outbox's record limit).
    const accepted = await postHttp2('RecordIngestService/IngestRecords', record(5 * 1024 * 1024), calls);
    expect(accepted.status).toBe(200);
    expect(calls).toEqual(['ingest']);
    await new Promise((done) => server?.close(done));
    const refused = await postHttp2('RecordIngestService/IngestRecords', record(20 * 1024 * 1024), calls);
    expect(refused.body.code).toBe('resource_exhausted');
    expect(calls).toEqual(['ingest']);
  });

  // The data planes' services have no authentication yet (ADR 0002): the README has operators keep the
  // gRPC port private. Mounted on the HTTP/1.1 listener too, they were open on the port handed to admins'
  // curl: anyone there could write usage records into the billing ledger, or stream the whole snapshot
  // (API key hashes included) without a token.
  it('serves the data planes’ unauthenticated services on the HTTP/2 listener only', async () => {
    const calls: unknown[] = [];
    const ingest = JSON.stringify({ dataPlaneId: 'dp-1', records: [{ key: 'k', auditBytes: 'AAAA' }] });
    expect((await post('RecordIngestService/IngestRecords', ingest, calls, '')).status).toBe(404);
    await new Promise((done) => server?.close(done));
    const report = JSON.stringify({ dataPlane: { id: 'dp-1' }, outcome: 'POLICY_APPLY_OUTCOME_APPLIED' });
    expect((await post('PolicySyncService/ReportPolicyStatus', report, calls, '')).status).toBe(404);
    await new Promise((done) => server?.close(done));
    expect(calls).toEqual([]);
    expect((await postHttp2('RecordIngestService/IngestRecords', ingest, calls)).status).toBe(200);
    expect(calls).toEqual(['ingest']);
  });
});
