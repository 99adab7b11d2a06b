import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttp2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, toBinary } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { connectNodeAdapter, createConnectTransport } from '@connectrpc/connect-node';
import {
  AdminService,
  AuditEventKind,
  AuditEventSchema,
  RecordIngestService,
  UsageRecordSchema,
  type IngestRejection,
} from '@api-router/contracts';
import { createLogger } from '@api-router/observability';
import { freePort, repoRoot } from '@api-router/testing';
import { afterEach, describe, expect, it } from 'vitest';
// The planes never import each other; this top-level test is where they meet: the real control plane
// in-process (and the real outbox) against the data plane's record ingest transport.
import { startControlPlane, type ControlPlane } from '@api-router/control-plane';
import { Outbox, Shipper } from '@api-router/outbox';
import {
  createGrpcRecordIngestTransport,
  RECORD_TOPICS,
  type GrpcRecordIngestTransport,
  type ShippableRecord,
} from '@api-router/data-plane';

/** The admin token of configs/router.sample.yaml (demo only). */
const SAMPLE_ADMIN_TOKEN = 'admin-demo-token-change-me';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tempDir(): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'record-ingest-'));
  cleanups.push(() => rm(directory, { recursive: true, force: true }));
  return directory;
}

async function controlPlane(): Promise<ControlPlane> {
  const root = repoRoot();
  const started = await startControlPlane(
    {
      host: '127.0.0.1',
      grpcPort: 0,
      httpPort: 0,
      configSource: {
        kind: 'file',
        routerPath: join(root, 'configs/router.sample.yaml'),
        policiesPath: join(root, 'configs/policies.sample.yaml'),
      },
      stateDir: await tempDir(),
      databaseUrl: undefined,
      drainDelayMs: 0,
      policyHeartbeatMs: 30_000,
      logLevel: 'silent',
      otlpTracesEndpoint: undefined,
    },
    { logger: createLogger({ service: 'control-plane-test', level: 'silent' }) },
  );
  cleanups.push(async () => {
    await started[Symbol.asyncDispose]();
  });
  return started;
}

function transport(
  address: string,
  options: { callTimeoutMs?: number; onRejected?: (rejections: readonly IngestRejection[]) => void } = {},
): GrpcRecordIngestTransport {
  const created = createGrpcRecordIngestTransport({ address, dataPlaneId: 'dp-test', ...options });
  cleanups.push(() => Promise.resolve(created.close()));
  return created;
}

function adminClient(running: ControlPlane) {
  const admin = createClient(
    AdminService,
    createConnectTransport({ baseUrl: running.httpUrl, httpVersion: '1.1' }),
  );
  const auth = { headers: { authorization: `Bearer ${SAMPLE_ADMIN_TOKEN}` } };
  return {
    lookup: (requestId: string) => admin.getRequestAudit({ requestId }, auth),
  };
}

const T0 = Date.UTC(2026, 0, 1);

function auditPayload(eventId: string, requestId: string): Uint8Array {
  return toBinary(
    AuditEventSchema,
    create(AuditEventSchema, {
      eventId,
      requestId,
      at: timestampFromMs(T0),
      kind: AuditEventKind.RATE_LIMITED,
      tenantId: 'acme',
      reasonCode: 'rate_limited',
    }),
  );
}

/** `recordId` '' is a record of a data plane older than record ids. */
function usagePayload(requestId: string, recordId = ''): Uint8Array {
  return toBinary(
    UsageRecordSchema,
    create(UsageRecordSchema, {
      requestId,
      recordId,
      tenantId: 'acme',
      statusCode: 429,
      startedAt: timestampFromMs(T0),
    }),
  );
}

const host = (url: string): string => new URL(url).host;

describe('gRPC record ingest transport (data plane → control plane)', () => {
  it('ships usage and audit records that the admin lookup then returns; re-sending stores nothing twice', async () => {
    const running = await controlPlane();
    // Two requests under one (reused) request id: two usage records, told apart by their record ids.
    const records: ShippableRecord[] = [
      { seq: 1, key: 'req-1', topic: RECORD_TOPICS.audit, payload: auditPayload('evt-1', 'req-1') },
      { seq: 2, key: 'req-1', topic: RECORD_TOPICS.usage, payload: usagePayload('req-1', 'rec-1') },
      { seq: 3, key: 'req-1', topic: RECORD_TOPICS.usage, payload: usagePayload('req-1', 'rec-2') },
    ];
    const ingest = transport(host(running.grpcUrl));
    await ingest.send(records);
    await ingest.send(records);

    const found = await adminClient(running).lookup('req-1');
    expect(found.events.map((event) => [event.eventId, event.dataPlaneId])).toEqual([['evt-1', 'dp-test']]);
    expect(found.usageRecords.map((usage) => [usage.recordId, usage.statusCode])).toEqual([
      ['rec-1', 429],
      ['rec-2', 429],
    ]);
    expect(found.usage?.recordId).toBe('rec-1');
    const metrics = await (await fetch(`${running.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/^router_cp_records_duplicate_total\{[^}]*\} 3$/m);
  });

  // An unknown topic is caught before sending (the record is named): the batch fails and the shipper keeps
  // retrying it (visible lag, nothing dropped) until a build that knows the topic runs. Payloads are not
  // decoded on the data plane (they are copied into the request as they are); one that does not decode can
  // never be stored, so the control plane refuses that record alone — it must not hold back every record
  // after it — and stores the rest of the batch.
  it('fails the batch for an unknown topic, naming the record', async () => {
    const running = await controlPlane();
    const ingest = transport(host(running.grpcUrl));
    await expect(
      ingest.send([{ seq: 7, key: 'req-7', topic: 'metrics', payload: new Uint8Array() }]),
    ).rejects.toThrow('outbox record seq 7 (key req-7) cannot be shipped: unknown topic "metrics"');
  });

  it('refuses a payload that does not decode on its own, and delivers the rest of its batch', async () => {
    const running = await controlPlane();
    const rejected: IngestRejection[] = [];
    const ingest = transport(host(running.grpcUrl), { onRejected: (list) => rejected.push(...list) });
    await ingest.send([
      { seq: 8, key: 'req-8', topic: RECORD_TOPICS.audit, payload: Uint8Array.of(0xff, 0xff) },
      { seq: 9, key: 'req-9', topic: RECORD_TOPICS.audit, payload: auditPayload('evt-9', 'req-9') },
    ]);
    expect(rejected.map(({ index, key, reason }) => ({ index, key, reason }))).toEqual([
      {
        index: 0,
        key: 'req-8',
        reason: expect.stringMatching(/^audit_bytes do not decode as an AuditEvent: /),
      },
    ]);
    expect((await adminClient(running).lookup('req-9')).events).toHaveLength(1);
  });

  it('reports records the control plane refuses for good, and delivers the rest', async () => {
    const running = await controlPlane();
    const rejected: IngestRejection[] = [];
    const ingest = transport(host(running.grpcUrl), { onRejected: (list) => rejected.push(...list) });
    await ingest.send([
      { seq: 1, key: 'req-1', topic: RECORD_TOPICS.audit, payload: auditPayload('', 'req-1') },
      { seq: 2, key: 'req-2', topic: RECORD_TOPICS.audit, payload: auditPayload('evt-2', 'req-2') },
    ]);
    expect(rejected.map(({ index, key, reason }) => ({ index, key, reason }))).toEqual([
      { index: 0, key: 'req-1', reason: 'audit event without event_id' },
    ]);
    expect((await adminClient(running).lookup('req-2')).events).toHaveLength(1);
  });

  it('keeps a batch an older control plane does not understand (no usage_bytes / audit_bytes), so nothing is lost', async () => {
    // A control plane from before ADR 0008: it knows the message forms only, and refuses anything else as
    // a record with neither (its code, verbatim).
    const server = createHttp2Server(
      connectNodeAdapter({
        routes: (router) =>
          router.service(RecordIngestService, {
            ingestRecords: (request) => {
              const rejected = request.records.flatMap((record, index) =>
                record.record.case === 'usage' || record.record.case === 'audit'
                  ? []
                  : [{ index, key: record.key, reason: 'record has neither usage nor audit' }],
              );
              return { stored: request.records.length - rejected.length, duplicates: 0, rejected };
            },
          }),
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const rejected: IngestRejection[] = [];
    const ingest = transport(`127.0.0.1:${(server.address() as AddressInfo).port}`, {
      onRejected: (list) => rejected.push(...list),
    });
    await expect(
      ingest.send([
        { seq: 1, key: 'req-1', topic: RECORD_TOPICS.usage, payload: usagePayload('req-1') },
        { seq: 2, key: 'req-2', topic: RECORD_TOPICS.audit, payload: auditPayload('evt-2', 'req-2') },
      ]),
    ).rejects.toThrow(/did not understand 2 of 2 records .*re-sent until the control plane is upgraded/);
    expect(rejected).toEqual([]); // not reported as refused for good: the shipper keeps the batch
  });

  it('rejects with UNAVAILABLE when no control plane listens, so the shipper retries', async () => {
    const ingest = transport(`127.0.0.1:${await freePort()}`, { callTimeoutMs: 5_000 });
    const error: unknown = await ingest
      .send([{ seq: 1, key: 'req-1', topic: RECORD_TOPICS.usage, payload: usagePayload('req-1') }])
      .catch((caught: unknown) => caught);
    expect((error as { code?: number }).code).toBe(14); // grpc status UNAVAILABLE
  });

  it('drives a real outbox: appended records reach the audit store through the shipper', async () => {
    const running = await controlPlane();
    const outbox = await Outbox.open({ directory: join(await tempDir(), 'outbox') });
    cleanups.push(() => outbox.close());
    const shipper = new Shipper({ outbox, transport: transport(host(running.grpcUrl)) });
    shipper.start();
    cleanups.push(() => shipper.close());

    await outbox.append({
      key: 'req-9',
      topic: RECORD_TOPICS.audit,
      payload: auditPayload('evt-9a', 'req-9'),
    });
    await outbox.append({
      key: 'req-9',
      topic: RECORD_TOPICS.audit,
      payload: auditPayload('evt-9b', 'req-9'),
    });
    await outbox.append({ key: 'req-9', topic: RECORD_TOPICS.usage, payload: usagePayload('req-9') });
    expect(await shipper.flush(10_000)).toBe(true);

    const found = await adminClient(running).lookup('req-9');
    expect(found.events.map((event) => event.eventId)).toEqual(['evt-9a', 'evt-9b']);
    expect(found.usage?.requestId).toBe('req-9');
    const missing = await adminClient(running)
      .lookup('req-10')
      .catch((caught: unknown) => ConnectError.from(caught));
    expect((missing as ConnectError).code).toBe(Code.NotFound);
  });
});
