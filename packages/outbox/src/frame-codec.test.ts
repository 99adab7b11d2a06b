import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32c } from './crc32c.js';
import { decodeFrameAt, encodeFrame, frameBytes } from './frame-codec.js';
import type { OutboxRecord } from './outbox-record.js';

const record = {
  seq: 42,
  appendedAtMs: 1_700_000_000_123,
  key: 'req-1',
  topic: 'usage',
  payload: Uint8Array.from([1, 2, 3]),
};

/**
 * The frame layout written the plain way (Buffer.from for the texts, BigInt for the 64-bit fields), as the
 * encoder first did: segment files written by any version must read the same, so the encoder's bytes may
 * never change.
 */
function referenceFrame(record: OutboxRecord): Buffer {
  const key = Buffer.from(record.key, 'utf8');
  const topic = Buffer.from(record.topic, 'utf8');
  const body = Buffer.concat([
    Buffer.alloc(16),
    Buffer.from([key.length >> 8, key.length & 0xff]),
    key,
    Buffer.from([topic.length >> 8, topic.length & 0xff]),
    topic,
    record.payload,
  ]);
  body.writeBigUInt64BE(BigInt(record.seq), 0);
  body.writeBigUInt64BE(BigInt(Math.max(0, Math.trunc(record.appendedAtMs))), 8);
  const header = Buffer.alloc(8);
  header.writeUInt32BE(body.length, 0);
  header.writeUInt32BE(crc32c(body, 0, body.length, crc32c(header, 0, 4)), 4);
  return Buffer.concat([header, body]);
}

const anyRecord = fc.record({
  seq: fc.oneof(fc.nat(), fc.maxSafeNat()),
  appendedAtMs: fc.oneof(fc.nat(), fc.maxSafeNat(), fc.double({ min: -1e15, max: 1e15, noNaN: true })),
  key: fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.string({ minLength: 40, maxLength: 120 }),
    fc.string({ unit: fc.constantFrom('a', 'é', '😀', '\uD800', '\uDFFF') }),
  ),
  topic: fc.string({ maxLength: 20 }),
  payload: fc.uint8Array({ maxLength: 300 }),
});

describe('frame codec', () => {
  it('writes the bytes it always wrote (golden frames)', () => {
    expect(encodeFrame({ ...record, appendedAtMs: 1_700_000_000_123.9 }).toString('hex')).toBe(
      '00000021c49cf858000000000000002a0000018bcfe5687b00057265712d3100057573616765010203',
    );
    const longKey = { seq: 2 ** 53 - 1, appendedAtMs: 0, topic: 'audit', payload: new Uint8Array() };
    expect(encodeFrame({ ...longKey, key: `é\uD800😀${'k'.repeat(60)}` }).toString('hex')).toBe(
      `0000005e3c5d5fe3001fffffffffffff00000000000000000045c3a9efbfbdf09f9880${'6b'.repeat(60)}00056175646974`,
    );
  });

  it('writes exactly the reference layout for any record (property)', () => {
    fc.assert(
      fc.property(anyRecord, (input) => {
        expect(encodeFrame(input).toString('hex')).toBe(referenceFrame(input).toString('hex'));
      }),
      { numRuns: 500 },
    );
  });

  it('round-trips any record', () => {
    fc.assert(
      fc.property(
        fc.record({
          seq: fc.maxSafeNat(),
          appendedAtMs: fc.nat(),
          key: fc.string({ unit: 'grapheme', maxLength: 40 }),
          topic: fc.string({ maxLength: 20 }),
          payload: fc.uint8Array({ maxLength: 300 }),
        }),
        (input) => {
          const frame = encodeFrame(input);
          expect(frame.length).toBe(
            frameBytes(Buffer.byteLength(input.key), Buffer.byteLength(input.topic), input.payload.length),
          );
          const decoded = decodeFrameAt(frame, 0);
          expect(decoded.kind).toBe('record');
          if (decoded.kind !== 'record') return;
          expect(decoded.frameBytes).toBe(frame.length);
          expect({ ...decoded.record, payload: [...decoded.record.payload] }).toEqual({
            ...input,
            payload: [...input.payload],
          });
        },
      ),
    );
  });

  it('detects any single flipped bit', () => {
    const frame = encodeFrame(record);
    for (let bit = 0; bit < frame.length * 8; bit += 1) {
      const damaged = Buffer.from(frame);
      damaged[bit >> 3] = damaged[bit >> 3]! ^ (1 << (bit & 7));
      expect(decodeFrameAt(damaged, 0).kind, `bit ${bit}`).not.toBe('record');
    }
  });

  it('reports a cut frame as incomplete, with its size once the header is readable', () => {
    const frame = encodeFrame(record);
    expect(decodeFrameAt(frame.subarray(0, 5), 0)).toEqual({ kind: 'incomplete', frameBytes: undefined });
    expect(decodeFrameAt(frame.subarray(0, frame.length - 1), 0)).toEqual({
      kind: 'incomplete',
      frameBytes: frame.length,
    });
  });

  it('rejects zeroed bytes (a pre-allocated or zero-filled tail) as corrupt', () => {
    expect(decodeFrameAt(Buffer.alloc(64), 0).kind).toBe('corrupt');
  });

  it('refuses keys over 65 535 bytes, and unsafe seqs or times', () => {
    expect(() => encodeFrame({ ...record, key: 'k'.repeat(70_000) })).toThrow(RangeError);
    expect(() => encodeFrame({ ...record, key: 'é'.repeat(40_000) })).toThrow(RangeError);
    expect(() => encodeFrame({ ...record, topic: 't'.repeat(70_000) })).toThrow(RangeError);
    expect(() => encodeFrame({ ...record, seq: 2 ** 53 })).toThrow(RangeError);
    expect(() => encodeFrame({ ...record, seq: -1 })).toThrow(RangeError);
    expect(() => encodeFrame({ ...record, appendedAtMs: Number.NaN })).toThrow(RangeError);
    expect(() => encodeFrame({ ...record, appendedAtMs: Number.POSITIVE_INFINITY })).toThrow(RangeError);
  });
});
