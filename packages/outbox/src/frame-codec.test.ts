import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeFrameAt, encodeFrame, frameBytes } from './frame-codec.js';

const record = {
  seq: 42,
  appendedAtMs: 1_700_000_000_123,
  key: 'req-1',
  topic: 'usage',
  payload: Uint8Array.from([1, 2, 3]),
};

describe('frame codec', () => {
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

  it('refuses keys over 65 535 bytes', () => {
    expect(() => encodeFrame({ ...record, key: 'k'.repeat(70_000) })).toThrow(RangeError);
  });
});
