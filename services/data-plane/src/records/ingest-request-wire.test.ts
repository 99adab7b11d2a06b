import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AuditEventSchema,
  IngestRecordSchema,
  IngestRecordsRequestSchema,
  UsageRecordSchema,
  type IngestRecord,
} from '@api-router/contracts';
import { encodeIngestRecordsRequest, RECORD_TOPICS, type ShippableRecord } from './ingest-request-wire.js';

/** The reference: protobuf-es encoding the whole request, each payload in its encoded (…_bytes) field. */
function reflectionEncoding(dataPlaneId: string, records: readonly ShippableRecord[]): Uint8Array {
  return toBinary(
    IngestRecordsRequestSchema,
    create(IngestRecordsRequestSchema, {
      dataPlaneId,
      records: records.map((record): IngestRecord =>
        create(IngestRecordSchema, {
          key: record.key,
          outboxSeq: BigInt(record.seq),
          record:
            record.topic === RECORD_TOPICS.usage
              ? { case: 'usageBytes', value: record.payload }
              : { case: 'auditBytes', value: record.payload },
        }),
      ),
    }),
  );
}

const usageRecord = fc
  .record({
    requestId: fc.string(),
    tenantId: fc.string(),
    inputTokens: fc.bigInt({ min: 0n, max: 2n ** 40n }),
    outputTokens: fc.bigInt({ min: 0n, max: 2n ** 40n }),
    costMicros: fc.bigInt({ min: 0n, max: 2n ** 50n }),
  })
  .map((fields) => toBinary(UsageRecordSchema, create(UsageRecordSchema, fields)));
const auditEvent = fc
  .record({ eventId: fc.string(), requestId: fc.string(), reasonCode: fc.string() })
  .map((fields) => toBinary(AuditEventSchema, create(AuditEventSchema, fields)));
/** Keys as the request id can be, and longer: a record's length varint takes 2 bytes past 127 bytes. */
const key = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.string({ minLength: 100, maxLength: 300 }),
  fc.string({ unit: fc.constantFrom('a', 'é', '😀', '\uD800') }),
);
const seq = fc.oneof(fc.nat(), fc.maxSafeNat());
const shippable = fc.oneof(
  fc.record({
    key,
    topic: fc.constant<string>(RECORD_TOPICS.usage),
    payload: usageRecord,
    seq,
  }),
  fc.record({
    key,
    topic: fc.constant<string>(RECORD_TOPICS.audit),
    payload: auditEvent,
    seq,
  }),
);

describe('encodeIngestRecordsRequest', () => {
  it('produces the bytes protobuf-es encodes for the same request (property)', () => {
    fc.assert(
      fc.property(key, fc.array(shippable, { maxLength: 8 }), (dataPlaneId, records) => {
        const wire = encodeIngestRecordsRequest(dataPlaneId, records);
        expect(Buffer.from(wire).equals(Buffer.from(reflectionEncoding(dataPlaneId, records)))).toBe(true);
        const decoded = fromBinary(IngestRecordsRequestSchema, wire);
        expect(decoded.records.map((record) => record.key)).toEqual(
          records.map((record) => Buffer.from(record.key, 'utf8').toString('utf8')),
        );
        // Each payload arrives as it was written, and decodes as its topic's message.
        decoded.records.forEach((record, index) => {
          const payload = record.record;
          if (payload.case === 'usageBytes') fromBinary(UsageRecordSchema, payload.value);
          else if (payload.case === 'auditBytes') fromBinary(AuditEventSchema, payload.value);
          else throw new Error(`record ${index} has no encoded payload (${String(payload.case)})`);
          expect(Buffer.from(payload.value).equals(Buffer.from(records[index]!.payload))).toBe(true);
        });
      }),
    );
  });

  it('refuses an unknown topic, naming the record', () => {
    expect(() =>
      encodeIngestRecordsRequest('dp-1', [
        { key: 'req-1', topic: 'billing', payload: new Uint8Array(), seq: 7 },
      ]),
    ).toThrow(/seq 7 \(key req-1\).*unknown topic "billing"/);
    expect(() =>
      encodeIngestRecordsRequest('dp-1', [
        { key: 'req-1', topic: 'constructor', payload: new Uint8Array(), seq: 7 },
      ]),
    ).toThrow(/unknown topic "constructor"/);
  });

  it('refuses a seq that is not a non-negative safe integer, naming the record', () => {
    for (const seq of [-1, 1.5, Number.NaN, 2 ** 53]) {
      expect(() =>
        encodeIngestRecordsRequest('dp-1', [
          { key: 'req-1', topic: 'usage', payload: new Uint8Array(), seq },
        ]),
      ).toThrow(/\(key req-1\) cannot be shipped: invalid seq/);
    }
  });
});
