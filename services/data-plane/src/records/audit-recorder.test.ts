import { fromBinary } from '@bufbuild/protobuf';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { describe, expect, it } from 'vitest';
import { AuditEventKind, AuditEventSchema } from '@api-router/contracts';
import { RouterError } from '@api-router/errors';
import { OutboxFullError } from '@api-router/outbox';
import { createOutboxAuditRecorder } from './audit-recorder.js';
import type { RecordAppender } from './record-appender.js';

const NOW_MS = 1_750_000_000_123;

function capturingAppender(): RecordAppender & {
  records: { key: string; topic: string; payload: Uint8Array }[];
} {
  const records: { key: string; topic: string; payload: Uint8Array }[] = [];
  return {
    records,
    append(record) {
      records.push(record);
      return Promise.resolve(records.length);
    },
  };
}

describe('createOutboxAuditRecorder', () => {
  it('appends a router.v1.AuditEvent under topic audit, keyed by request id', async () => {
    const outbox = capturingAppender();
    const recorder = createOutboxAuditRecorder({
      outbox,
      clock: { now: () => NOW_MS },
      dataPlaneId: 'dp-7',
      randomBytes: (size) => Buffer.alloc(size, 0xab),
    });
    await recorder.record({
      kind: AuditEventKind.AUTH_DENIED,
      requestId: 'req-1',
      keyPublicId: 'rk_demo01',
      tenantId: 'acme',
      reasonCode: 'wrong_secret',
      message: '401 unauthenticated: wrong_secret',
      attributes: { status: '401' },
    });
    expect(outbox.records).toHaveLength(1);
    const [record] = outbox.records;
    expect(record).toMatchObject({ key: 'req-1', topic: 'audit' });
    const event = fromBinary(AuditEventSchema, record!.payload);
    expect(event).toMatchObject({
      requestId: 'req-1',
      kind: AuditEventKind.AUTH_DENIED,
      tenantId: 'acme',
      keyPublicId: 'rk_demo01',
      reasonCode: 'wrong_secret',
      message: '401 unauthenticated: wrong_secret',
      attributes: { status: '401' },
      actor: '',
      dataPlaneId: 'dp-7',
    });
    expect(timestampMs(event.at!)).toBe(NOW_MS);
    // A UUIDv7 whose timestamp is the event time: ids sort by time in the control plane's store.
    expect(event.eventId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(parseInt(event.eventId.replace(/-/g, '').slice(0, 12), 16)).toBe(NOW_MS);
  });

  it('gives every event its own id', async () => {
    const outbox = capturingAppender();
    const recorder = createOutboxAuditRecorder({ outbox, clock: { now: () => NOW_MS }, dataPlaneId: 'dp' });
    const init = { kind: AuditEventKind.MODEL_DENIED, requestId: 'r', reasonCode: 'x', message: 'm' };
    await recorder.record(init);
    await recorder.record(init);
    const ids = outbox.records.map((record) => fromBinary(AuditEventSchema, record.payload).eventId);
    expect(new Set(ids).size).toBe(2);
  });

  it('rejects with 503 dependency_unavailable when the outbox cannot take the event', async () => {
    const recorder = createOutboxAuditRecorder({
      outbox: { append: () => Promise.reject(new OutboxFullError(100, 100)) },
      clock: { now: () => NOW_MS },
      dataPlaneId: 'dp',
    });
    const error = await recorder
      .record({ kind: AuditEventKind.AUTH_DENIED, requestId: 'r', reasonCode: 'x', message: 'm' })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RouterError);
    expect(error).toMatchObject({ code: 'dependency_unavailable', status: 503 });
    expect((error as RouterError).cause).toBeInstanceOf(OutboxFullError);
  });
});
