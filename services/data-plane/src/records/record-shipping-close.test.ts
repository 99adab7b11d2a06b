import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuditEventKind } from '@api-router/contracts';
import { createLogger, createMetricsRegistry } from '@api-router/observability';
import { Outbox, type OutboxRecord } from '@api-router/outbox';
import type { RecordTransport } from './record-transport.js';
import { startRecordShipping } from './record-shipping.js';

// The configured transport (Kafka or the control plane) is replaced here, so that its close can hang as
// kafkajs' producer.disconnect() does while a produce request waits for its acks.
const configured: { transport: RecordTransport | undefined } = { transport: undefined };
vi.mock('./record-transport.js', () => ({
  createRecordTransport: () => configured.transport!,
}));

const logger = createLogger({ service: 'test', level: 'silent' });
const directories: string[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const directory of directories.splice(0)) await rm(directory, { recursive: true, force: true });
});

/** Lets I/O callbacks run until `done()` (or a bound on loop turns); fake timers do not move meanwhile. */
async function until(done: () => boolean): Promise<void> {
  for (let turn = 0; turn < 200_000 && !done(); turn += 1)
    await new Promise<void>((resolve) => setImmediate(resolve));
}

describe('startRecordShipping close', () => {
  it('stops waiting for a transport close that hangs once DP_OUTBOX_FLUSH_TIMEOUT_MS has passed', async () => {
    const delivered: OutboxRecord[] = [];
    let closeCalled = false;
    configured.transport = {
      kind: 'kafka',
      send: (records) => {
        delivered.push(...records);
        return Promise.resolve();
      },
      close: () => {
        closeCalled = true;
        return new Promise<void>(() => undefined); // a connection that never finishes closing
      },
    };
    const cacheDir = await mkdtemp(join(tmpdir(), 'dp-records-close-'));
    directories.push(cacheDir);
    const shipping = await startRecordShipping(
      {
        records: {
          outboxDir: undefined,
          outboxMaxBytes: 1024 * 1024,
          flushTimeoutMs: 5000,
          outboxSync: 'batch',
          outboxSyncIntervalMs: 10,
          kafka: undefined,
        },
        cacheDir,
        controlPlaneAddress: '127.0.0.1:1',
        dataPlaneId: 'dp-test',
      },
      {
        logger,
        clock: { now: () => 1_750_000_000_000 },
        metricsRegistry: createMetricsRegistry({ defaultLabels: {} }),
      },
    );
    await shipping.audit.record({
      kind: AuditEventKind.AUTH_DENIED,
      requestId: 'req-1',
      reasonCode: 'unknown_key',
      message: '401 unauthenticated: unknown_key',
    });
    let closed = false;
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const closing = shipping.close().then(() => {
      closed = true;
    });
    await until(() => closeCalled); // the backlog was delivered, the shipper stopped: the transport closes
    await vi.advanceTimersByTimeAsync(5000);
    await until(() => closed);
    expect(closed).toBe(true); // never before the fix: close awaited the transport's close for ever
    await closing;
    expect(delivered.map((record) => record.key)).toEqual(['req-1']);
    // The outbox was closed after the transport: the delivered record is acked, nothing is left.
    const outbox = await Outbox.open({ directory: join(cacheDir, 'outbox') });
    expect(await outbox.read(outbox.ackedSeq, { maxRecords: 10, maxBytes: 1 << 20 })).toEqual([]);
    await outbox.close();
  });
});
