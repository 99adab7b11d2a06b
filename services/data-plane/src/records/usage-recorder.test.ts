import { fromBinary } from '@bufbuild/protobuf';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { describe, expect, it } from 'vitest';
import { UsageRecordSchema } from '@api-router/contracts';
import { OutboxError } from '@api-router/outbox';
import { createOutboxUsageRecorder, type UsageRecordInit } from './usage-recorder.js';

const NOW_MS = 1_750_000_000_500;
const clock = { now: () => NOW_MS };

const usage: UsageRecordInit = {
  requestId: 'req-9',
  startedAtMs: 1_750_000_000_000,
  tenantId: 'acme',
  keyPublicId: 'rk_demo01',
  model: 'demo-chat',
  routeId: 'demo-chat',
  backendId: 'mock-a',
  statusCode: 200,
  inputTokens: 12,
  outputTokens: 34,
  costMicros: 57,
  attempts: 2,
  streamed: true,
  truncated: false,
  totalMs: 12.5,
  upstreamMs: 10.25,
  overheadMs: 2.25,
  queueMs: 0,
  timeToFirstTokenMs: 4.5,
  policyVersion: 7n,
};

describe('createOutboxUsageRecorder', () => {
  it('appends a router.v1.UsageRecord under topic usage, keyed by request id', async () => {
    const appended: { key: string; topic: string; payload: Uint8Array }[] = [];
    const recorder = createOutboxUsageRecorder({
      outbox: {
        append: (record) => {
          appended.push(record);
          return Promise.resolve(1);
        },
      },
      dataPlaneId: 'dp-7',
      clock,
      randomBytes: (size) => Buffer.alloc(size, 0xab),
    });
    await recorder.record(usage);
    expect(appended).toHaveLength(1);
    expect(appended[0]).toMatchObject({ key: 'req-9', topic: 'usage' });
    const record = fromBinary(UsageRecordSchema, appended[0]!.payload);
    expect(record).toMatchObject({
      requestId: 'req-9',
      tenantId: 'acme',
      keyPublicId: 'rk_demo01',
      model: 'demo-chat',
      routeId: 'demo-chat',
      backendId: 'mock-a',
      statusCode: 200,
      inputTokens: 12n,
      outputTokens: 34n,
      costMicros: 57n,
      attempts: 2,
      streamed: true,
      truncated: false,
      totalMs: 12.5,
      upstreamMs: 10.25,
      overheadMs: 2.25,
      queueMs: 0,
      timeToFirstTokenMs: 4.5,
      dataPlaneId: 'dp-7',
      policyVersion: 7n,
      // UUIDv7: the clock's ms (0x01977420ddf4), then the random bytes with the version and variant bits set.
      recordId: '01977420-ddf4-7bab-abab-abababababab',
    });
    expect(timestampMs(record.startedAt!)).toBe(1_750_000_000_000);
  });

  it('gives every record its own record id, also to records of one request id (a reused x-request-id)', async () => {
    const payloads: Uint8Array[] = [];
    const recorder = createOutboxUsageRecorder({
      outbox: {
        append: (record) => {
          payloads.push(record.payload);
          return Promise.resolve(payloads.length);
        },
      },
      dataPlaneId: 'dp-7',
      clock,
    });
    await recorder.record(usage);
    await recorder.record(usage);
    const [first, second] = payloads.map((payload) => fromBinary(UsageRecordSchema, payload));
    expect(first!.requestId).toBe('req-9');
    expect(second!.requestId).toBe('req-9');
    expect(first!.recordId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(second!.recordId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(first!.recordId).not.toBe(second!.recordId);
  });

  it('rejects with 503 dependency_unavailable when the outbox is closed', async () => {
    const recorder = createOutboxUsageRecorder({
      outbox: { append: () => Promise.reject(new OutboxError('closed', 'outbox is closed')) },
      dataPlaneId: 'dp',
      clock,
    });
    await expect(recorder.record(usage)).rejects.toMatchObject({ code: 'dependency_unavailable' });
  });
});
