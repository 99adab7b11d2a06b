import { appendFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuditEventKind, AuditEventSchema } from '@api-router/contracts';
import { createLogger, createMetricsRegistry } from '@api-router/observability';
import { Outbox, type OutboxRecord, type OutboxTransport } from '@api-router/outbox';
import type { RecordsSettings } from '../config.js';
import { startRecordShipping, type RecordShipping } from './record-shipping.js';

const logger = createLogger({ service: 'test', level: 'silent' });
const clock = { now: () => 1_750_000_000_000 };
const directories: string[] = [];
afterEach(async () => {
  for (const directory of directories.splice(0)) await rm(directory, { recursive: true, force: true });
});

async function start(
  transport: OutboxTransport,
  records: Partial<RecordsSettings> = {},
  cacheDir?: string,
): Promise<{ shipping: RecordShipping; cacheDir: string; metrics: () => Promise<string> }> {
  const dir = cacheDir ?? (await mkdtemp(join(tmpdir(), 'dp-records-')));
  if (cacheDir === undefined) directories.push(dir);
  const metricsRegistry = createMetricsRegistry({ defaultLabels: {} });
  const shipping = await startRecordShipping(
    {
      records: {
        outboxDir: undefined,
        outboxMaxBytes: 1024 * 1024,
        flushTimeoutMs: 2000,
        outboxSync: 'interval',
        outboxSyncIntervalMs: 10,
        kafka: undefined,
        ...records,
      },
      cacheDir: dir,
      controlPlaneAddress: '127.0.0.1:1',
      dataPlaneId: 'dp-test',
    },
    { logger, clock, metricsRegistry, transport },
  );
  return { shipping, cacheDir: dir, metrics: () => metricsRegistry.metrics() };
}

function collecting(): OutboxTransport & { delivered: OutboxRecord[] } {
  const delivered: OutboxRecord[] = [];
  return {
    delivered,
    send(records) {
      delivered.push(...records);
      return Promise.resolve();
    },
  };
}

const denial = (requestId: string) => ({
  kind: AuditEventKind.AUTH_DENIED,
  requestId,
  reasonCode: 'unknown_key',
  message: '401 unauthenticated: unknown_key',
});

async function outboxRecords(directory: string): Promise<OutboxRecord[]> {
  const outbox = await Outbox.open({ directory });
  try {
    return await outbox.read(outbox.ackedSeq, { maxRecords: 1000, maxBytes: 1024 * 1024 });
  } finally {
    await outbox.close();
  }
}

describe('startRecordShipping', () => {
  it('ships recorded events from <cacheDir>/outbox to the transport; shutdown flushes first', async () => {
    const transport = collecting();
    const { shipping, metrics } = await start(transport);
    await shipping.audit.record(denial('req-1'));
    await shipping.close();
    expect(transport.delivered.map((record) => [record.topic, record.key])).toEqual([['audit', 'req-1']]);
    const event = fromBinary(AuditEventSchema, transport.delivered[0]!.payload);
    expect(event).toMatchObject({ requestId: 'req-1', dataPlaneId: 'dp-test' });
    expect(shipping.status()).toEqual({
      state: 'closed',
      pending: 0,
      oldestAgeSeconds: 0,
      sendInFlightSeconds: 0,
      transport: 'custom',
    });
    const text = await metrics();
    expect(text).toMatch(/^router_outbox_pending_records 0$/m);
    expect(text).toMatch(/^router_outbox_commit_seconds_count [1-9]/m);
  });

  it('retries a failed delivery at shutdown instead of waiting out the backoff', async () => {
    let failures = 1;
    const transport = collecting();
    const { shipping, metrics } = await start({
      send: (records) => (failures-- > 0 ? Promise.reject(new Error('down')) : transport.send(records)),
    });
    await shipping.audit.record(denial('req-2'));
    await shipping.close();
    expect(transport.delivered.map((record) => record.key)).toEqual(['req-2']);
    expect(await metrics()).toMatch(/^router_outbox_ship_failures_total 1$/m);
  });

  it('leaves what it could not deliver on disk at shutdown; the next start ships it', async () => {
    const down: OutboxTransport = { send: () => Promise.reject(new Error('control plane down')) };
    const first = await start(down, { flushTimeoutMs: 50 });
    await first.shipping.audit.record(denial('req-3'));
    await first.shipping.usage.record({
      requestId: 'req-3',
      startedAtMs: 0,
      tenantId: 'acme',
      keyPublicId: 'rk_demo01',
      model: 'm',
      routeId: 'r',
      backendId: 'b',
      statusCode: 200,
      inputTokens: 1,
      outputTokens: 2,
      costMicros: 3,
      attempts: 1,
      streamed: false,
      truncated: false,
      totalMs: 1,
      upstreamMs: 1,
      overheadMs: 0,
      queueMs: 0,
      timeToFirstTokenMs: 0,
      policyVersion: 1n,
    });
    expect(first.shipping.status()).toMatchObject({ pending: 2 });
    await first.shipping.close();
    const left = await outboxRecords(join(first.cacheDir, 'outbox'));
    expect(left.map((record) => [record.topic, record.key])).toEqual([
      ['audit', 'req-3'],
      ['usage', 'req-3'],
    ]);

    const transport = collecting();
    const second = await start(transport, {}, first.cacheDir);
    await second.shipping.close();
    expect(transport.delivered.map((record) => record.topic)).toEqual(['audit', 'usage']);
  });

  it('stops waiting for a send that never settles once DP_OUTBOX_FLUSH_TIMEOUT_MS has passed (Kafka unreachable)', async () => {
    // kafkajs retries a connect or waits out its ack timeout far longer than a pod's termination grace
    // period: shutdown must not wait for it, and the send settling later must neither ack nor crash.
    let sendStarted!: () => void;
    const started = new Promise<void>((resolve) => (sendStarted = resolve));
    let settleSend!: () => void;
    const hung: OutboxTransport = {
      send: () => {
        sendStarted();
        return new Promise<void>((resolve) => (settleSend = resolve));
      },
    };
    const { shipping, cacheDir } = await start(hung, { flushTimeoutMs: 5000, outboxSync: 'batch' });
    await shipping.audit.record(denial('req-6'));
    await started;
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let closing: Promise<void>;
    try {
      closing = shipping.close();
      await vi.advanceTimersByTimeAsync(5000);
    } finally {
      vi.useRealTimers();
    }
    await closing; // never resolved before the fix: close awaited the hung send
    settleSend();
    await new Promise<void>((resolve) => setImmediate(resolve));
    const left = await outboxRecords(join(cacheDir, 'outbox'));
    expect(left.map((record) => record.key)).toEqual(['req-6']);
  });

  it('counts a torn write cut from the newest segment at start, and its bytes', async () => {
    // Before: recovery only logged a warning; an OS crash or power loss (interval mode) that cut records
    // left no trace on a dashboard.
    const cacheDir = await mkdtemp(join(tmpdir(), 'dp-records-'));
    directories.push(cacheDir);
    const directory = join(cacheDir, 'outbox');
    const writer = await Outbox.open({ directory });
    await writer.append({ key: 'req-t', topic: 'audit', payload: Buffer.from('whole') });
    await writer.close();
    const [segment] = (await readdir(directory)).filter((name) => name.startsWith('segment-'));
    await appendFile(join(directory, segment!), Buffer.alloc(40, 7)); // a crash mid-append
    const { shipping, metrics } = await start(collecting(), {}, cacheDir);
    const text = await metrics();
    expect(text).toMatch(/^router_outbox_torn_tail_total 1$/m);
    expect(text).toMatch(/^router_outbox_torn_tail_bytes_total 40$/m);
    await shipping.close();
  });

  it('starts with the torn-tail counters at zero', async () => {
    const { shipping, metrics } = await start(collecting());
    const text = await metrics();
    expect(text).toMatch(/^router_outbox_torn_tail_total 0$/m);
    expect(text).toMatch(/^router_outbox_torn_tail_bytes_total 0$/m);
    await shipping.close();
  });

  it('shows a send that waits on an unreachable transport in the status and the metrics (Kafka retrying)', async () => {
    // kafkajs' idempotent producer retries without limit: a send in an outage neither fails nor resolves.
    let sendStarted!: () => void;
    const started = new Promise<void>((resolve) => (sendStarted = resolve));
    let settleSend!: () => void;
    const hung: OutboxTransport = {
      send: () => {
        sendStarted();
        return new Promise<void>((resolve) => (settleSend = resolve));
      },
    };
    // Only Date is faked (the shipper's clock reads Date.now); timers stay real.
    vi.useFakeTimers({ toFake: ['Date'], now: 1_750_000_000_000 });
    try {
      const { shipping, metrics } = await start(hung);
      await shipping.audit.record(denial('req-7'));
      await started;
      vi.setSystemTime(1_750_000_042_500);
      expect(shipping.status()).toMatchObject({ pending: 1, sendInFlightSeconds: 42 });
      const text = await metrics();
      expect(text).toMatch(/^router_outbox_send_in_flight_seconds 42\.5$/m);
      expect(text).toMatch(/^router_outbox_ship_failures_total 0$/m);
      settleSend();
      await shipping.close();
      expect(shipping.status()).toMatchObject({ pending: 0, sendInFlightSeconds: 0 });
    } finally {
      vi.useRealTimers();
    }
  });

  it('refuses a record with 503 when the outbox is full, and counts it', async () => {
    const { shipping, metrics } = await start(collecting(), { outboxMaxBytes: 10 });
    await expect(shipping.audit.record(denial('req-4'))).rejects.toMatchObject({
      code: 'dependency_unavailable',
    });
    expect(await metrics()).toMatch(/^router_outbox_append_failures_total\{reason="full"\} 1$/m);
    await shipping.close();
  });

  it('DP_OUTBOX_SYNC=interval (default): a recorded event is fdatasynced in the background; the gauges show the window', async () => {
    const transport = collecting();
    const { shipping, metrics } = await start(transport, { outboxSyncIntervalMs: 1000 });
    await shipping.audit.record(denial('req-5'));
    // The first sync after an idle period starts at once, off the response path.
    for (let turn = 0; turn < 100_000; turn += 1) {
      if (/^router_outbox_sync_seconds_count 1$/m.test(await metrics())) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    const text = await metrics();
    expect(text).toMatch(/^router_outbox_sync_seconds_count 1$/m);
    expect(text).toMatch(/^router_outbox_unsynced_records 0$/m);
    expect(text).toMatch(/^router_outbox_unsynced_bytes 0$/m);
    expect(text).toMatch(/^router_outbox_last_sync_age_seconds \d/m);
    await shipping.close();
    expect(transport.delivered.map((record) => record.key)).toEqual(['req-5']);
  });

  it('DP_OUTBOX_SYNC=batch: a record is fdatasynced before it counts as recorded, with no background sync', async () => {
    const { shipping, metrics } = await start(collecting(), { outboxSync: 'batch' });
    await shipping.audit.record(denial('req-6'));
    expect(await metrics()).toMatch(/^router_outbox_unsynced_records 0$/m);
    await shipping.close();
    expect(await metrics()).toMatch(/^router_outbox_sync_seconds_count 0$/m);
  });
});
