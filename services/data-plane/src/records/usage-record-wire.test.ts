import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UsageRecordSchema } from '@api-router/contracts';
import type { UsageRecordInit } from './usage-recorder.js';
import { encodeUsageRecord, USAGE_RECORD_FIELDS } from './usage-record-wire.js';

/** The reference encoding: protobuf-es reflection over the generated schema. */
function reflectionEncoding(init: UsageRecordInit, dataPlaneId: string): Uint8Array {
  return toBinary(
    UsageRecordSchema,
    create(UsageRecordSchema, {
      ...init,
      startedAt: timestampFromMs(init.startedAtMs),
      inputTokens: BigInt(init.inputTokens),
      outputTokens: BigInt(init.outputTokens),
      costMicros: BigInt(init.costMicros),
      dataPlaneId,
    }),
  );
}

const count = fc.oneof(fc.constant(0), fc.nat(), fc.maxSafeNat());
const milliseconds = fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1e9, noNaN: true }));
const usageInit: fc.Arbitrary<UsageRecordInit> = fc.record({
  requestId: fc.string(),
  startedAtMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 4_102_444_800_000 })),
  tenantId: fc.string(),
  keyPublicId: fc.string(),
  model: fc.string({ unit: 'grapheme' }),
  routeId: fc.string(),
  backendId: fc.string(),
  statusCode: fc.oneof(fc.constant(0), fc.integer({ min: 100, max: 599 })),
  inputTokens: count,
  outputTokens: count,
  costMicros: count,
  attempts: fc.nat({ max: 10 }),
  streamed: fc.boolean(),
  truncated: fc.boolean(),
  totalMs: milliseconds,
  upstreamMs: milliseconds,
  overheadMs: milliseconds,
  queueMs: milliseconds,
  timeToFirstTokenMs: milliseconds,
  policyVersion: fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
});

describe('encodeUsageRecord', () => {
  it('writes exactly the bytes protobuf-es writes for the same record (property)', () => {
    fc.assert(
      fc.property(usageInit, fc.string(), (init, dataPlaneId) => {
        const wire = encodeUsageRecord(init, dataPlaneId);
        expect(Buffer.from(wire).toString('hex')).toBe(
          Buffer.from(reflectionEncoding(init, dataPlaneId)).toString('hex'),
        );
        expect(fromBinary(UsageRecordSchema, wire).requestId).toBe(init.requestId);
      }),
      { numRuns: 500 },
    );
  });

  it('knows every field of router.v1.UsageRecord (a new proto field fails here until it is encoded)', () => {
    const schemaFields = Object.fromEntries(
      UsageRecordSchema.fields.map((field) => [field.localName, field.number]),
    );
    expect(schemaFields).toEqual(USAGE_RECORD_FIELDS);
  });
});
