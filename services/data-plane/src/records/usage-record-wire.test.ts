import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UsageRecordSchema } from '@api-router/contracts';
import type { UsageRecordInit } from './usage-recorder.js';
import { encodeUsageRecord, USAGE_RECORD_FIELDS } from './usage-record-wire.js';

/** The reference encoding: protobuf-es reflection over the generated schema. */
function reflectionEncoding(init: UsageRecordInit, dataPlaneId: string, recordId: string): Uint8Array {
  return toBinary(
    UsageRecordSchema,
    create(UsageRecordSchema, {
      ...init,
      startedAt: timestampFromMs(init.startedAtMs),
      inputTokens: BigInt(init.inputTokens),
      outputTokens: BigInt(init.outputTokens),
      costMicros: BigInt(init.costMicros),
      dataPlaneId,
      recordId,
    }),
  );
}

const RECORD_ID = '0193a5f2-7c1e-7d3a-9b4f-0123456789ab';

/** The encoding, or the fact that the encoder threw. */
function outcome(encode: () => Uint8Array): string {
  try {
    return Buffer.from(encode()).toString('hex');
  } catch {
    return 'threw';
  }
}

/**
 * Strings of every shape the encoder treats differently: empty, short ASCII (copied in a loop), long ones
 * (native write, and a length varint of 2 bytes past 127 bytes), multi-byte UTF-8, and lone surrogates
 * (which UTF-8 encoding turns into U+FFFD).
 */
const text = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.string({ unit: 'binary', minLength: 40, maxLength: 200 }),
  fc.string({ minLength: 120, maxLength: 300 }),
  fc.string({
    unit: fc.oneof(fc.string({ minLength: 1, maxLength: 1 }), fc.constantFrom('\uD800', '\uDFFF', 'é', '😀')),
  }),
);
const count = fc.oneof(
  fc.constant(0),
  fc.nat(),
  fc.maxSafeNat(),
  // Above 2^53 only some integers are doubles; every one of them up to 2^64 - 2048 is a valid uint64.
  fc.integer({ min: 53, max: 63 }).map((bit) => 2 ** bit),
  fc.constant(2 ** 64 - 2048),
);
const milliseconds = fc.oneof(
  fc.constant(0),
  fc.double({ min: 0, max: 1e9, noNaN: true }),
  fc.double(), // NaN, ±Infinity, -0, negatives: any double is written as is
);
const usageInit: fc.Arbitrary<UsageRecordInit> = fc.record({
  requestId: text,
  startedAtMs: fc.oneof(
    fc.constant(0),
    fc.integer({ min: 0, max: 4_102_444_800_000 }),
    fc.integer({ min: -4_102_444_800_000, max: 0 }), // before 1970: negative seconds (10-byte varints)
  ),
  tenantId: text,
  keyPublicId: text,
  model: text,
  routeId: text,
  backendId: text,
  statusCode: fc.oneof(fc.constant(0), fc.integer({ min: 100, max: 599 }), fc.constant(2 ** 32 - 1)),
  inputTokens: count,
  outputTokens: count,
  costMicros: count,
  attempts: fc.oneof(fc.nat({ max: 10 }), fc.constant(2 ** 32 - 1)),
  streamed: fc.boolean(),
  truncated: fc.boolean(),
  totalMs: milliseconds,
  upstreamMs: milliseconds,
  overheadMs: milliseconds,
  queueMs: milliseconds,
  timeToFirstTokenMs: milliseconds,
  policyVersion: fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
});

/** Numbers protobuf-es refuses (fractions, negatives, out of range, NaN) next to valid ones. */
const anyNumber = fc.oneof(
  fc.constant(0),
  fc.nat(),
  fc.double(),
  fc.integer({ min: -5, max: 5 }).map((n) => n / 2),
);
const anyUsageInit: fc.Arbitrary<UsageRecordInit> = fc.record({
  requestId: fc.string(),
  startedAtMs: fc.oneof(fc.nat(), fc.double()),
  tenantId: fc.string(),
  keyPublicId: fc.string(),
  model: fc.string(),
  routeId: fc.string(),
  backendId: fc.string(),
  statusCode: fc.oneof(anyNumber, fc.constant(2 ** 32)),
  inputTokens: fc.oneof(anyNumber, fc.constant(2 ** 64)),
  outputTokens: anyNumber,
  costMicros: anyNumber,
  attempts: anyNumber,
  streamed: fc.boolean(),
  truncated: fc.boolean(),
  totalMs: fc.double(),
  upstreamMs: fc.double(),
  overheadMs: fc.double(),
  queueMs: fc.double(),
  timeToFirstTokenMs: fc.double(),
  policyVersion: fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.constantFrom(-1n, 2n ** 64n)),
});

describe('encodeUsageRecord', () => {
  it('writes exactly the bytes protobuf-es writes for the same record (property)', () => {
    fc.assert(
      fc.property(usageInit, text, text, (init, dataPlaneId, recordId) => {
        const wire = encodeUsageRecord(init, dataPlaneId, recordId);
        expect(Buffer.from(wire).toString('hex')).toBe(
          Buffer.from(reflectionEncoding(init, dataPlaneId, recordId)).toString('hex'),
        );
        const decoded = fromBinary(UsageRecordSchema, wire);
        expect(decoded.requestId).toBe(Buffer.from(init.requestId, 'utf8').toString('utf8'));
        expect(decoded.recordId).toBe(Buffer.from(recordId, 'utf8').toString('utf8'));
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses exactly the numbers protobuf-es refuses, and encodes the rest identically (property)', () => {
    fc.assert(
      fc.property(anyUsageInit, (init) => {
        expect(outcome(() => encodeUsageRecord(init, 'dp-1', RECORD_ID))).toBe(
          outcome(() => reflectionEncoding(init, 'dp-1', RECORD_ID)),
        );
      }),
      { numRuns: 1000 },
    );
  });

  it('names the field it cannot encode', () => {
    const valid = { ...fc.sample(usageInit, { numRuns: 1, seed: 1 })[0]!, inputTokens: 1.5 };
    expect(() => encodeUsageRecord(valid, 'dp-1', RECORD_ID)).toThrow(/UsageRecord\.inputTokens 1\.5/);
  });

  it('knows every field of router.v1.UsageRecord (a new proto field fails here until it is encoded)', () => {
    const schemaFields = Object.fromEntries(
      UsageRecordSchema.fields.map((field) => [field.localName, field.number]),
    );
    expect(schemaFields).toEqual(USAGE_RECORD_FIELDS);
  });
});
