import { fromBinary } from '@bufbuild/protobuf';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { describe, expect, it } from 'vitest';
import { UsageRecordSchema } from '@api-router/contracts';
import { OutboxError } from '@api-router/outbox';
import { createOutboxUsageRecorder, type UsageRecordInit } from './usage-recorder.js';

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
    });
    expect(timestampMs(record.startedAt!)).toBe(1_750_000_000_000);
  });

  it('rejects with 503 dependency_unavailable when the outbox is closed', async () => {
    const recorder = createOutboxUsageRecorder({
      outbox: { append: () => Promise.reject(new OutboxError('closed', 'outbox is closed')) },
      dataPlaneId: 'dp',
    });
    await expect(recorder.record(usage)).rejects.toMatchObject({ code: 'dependency_unavailable' });
  });
});
