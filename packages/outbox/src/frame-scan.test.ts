import { describe, expect, it } from 'vitest';
import { encodeFrame } from './frame-codec.js';
import { scanFrames, type ScanOptions } from './frame-scan.js';

function frames(seqs: number[]): Buffer[] {
  return seqs.map((seq) =>
    encodeFrame({
      seq,
      appendedAtMs: seq * 10,
      key: `req-${seq}`,
      topic: 'usage',
      payload: Buffer.from(`payload ${seq}`),
    }),
  );
}

function scan(buffer: Buffer, options: Partial<ScanOptions> = {}) {
  const seqs: number[] = [];
  const result = scanFrames(buffer, {
    minSeqExclusive: 0,
    maxSeq: Number.MAX_SAFE_INTEGER,
    onRecord: (record) => {
      seqs.push(record.seq);
      return true;
    },
    ...options,
  });
  return { seqs, ...result };
}

describe('scanFrames', () => {
  it('reads consecutive frames to the end', () => {
    const buffer = Buffer.concat(frames([1, 2, 3]));
    expect(scan(buffer)).toEqual({ seqs: [1, 2, 3], end: buffer.length, skipped: [], tail: undefined });
  });

  it('reports a cut last frame as an incomplete tail', () => {
    const parts = frames([1, 2, 3]);
    const buffer = Buffer.concat(parts).subarray(0, parts[0]!.length + parts[1]!.length + 10);
    const result = scan(buffer);
    expect(result.seqs).toEqual([1, 2]);
    expect(result.tail).toMatchObject({
      offset: parts[0]!.length + parts[1]!.length,
      incomplete: true,
      frameBytes: parts[2]!.length,
    });
  });

  it('skips a corrupt frame in the middle and resynchronises on the next valid one', () => {
    const parts = frames([1, 2, 3, 4]);
    const buffer = Buffer.concat(parts);
    const second = parts[0]!.length;
    buffer[second + 1] = buffer[second + 1]! ^ 0xff; // the length field of frame 2
    const result = scan(buffer);
    expect(result.seqs).toEqual([1, 3, 4]);
    expect(result.skipped).toEqual([
      { offset: second, skippedBytes: parts[1]!.length, reason: expect.any(String) as string },
    ]);
    expect(result.tail).toBeUndefined();
  });

  it('treats garbage with no valid frame after it as the tail', () => {
    const parts = frames([1, 2]);
    const buffer = Buffer.concat([...parts, Buffer.alloc(100, 0xab)]);
    const result = scan(buffer);
    expect(result.seqs).toEqual([1, 2]);
    expect(result.tail).toMatchObject({ offset: parts[0]!.length + parts[1]!.length, incomplete: false });
  });

  it('rejects frames out of seq order or beyond maxSeq', () => {
    const buffer = Buffer.concat(frames([5, 4, 6, 7]));
    const result = scan(buffer, { maxSeq: 6 });
    expect(result.seqs).toEqual([5, 6]);
    expect(result.skipped).toHaveLength(1);
    expect(result.tail).toBeDefined();
  });

  it('stops before a frame when onRecord returns false', () => {
    const parts = frames([1, 2, 3]);
    const result = scanFrames(Buffer.concat(parts), {
      minSeqExclusive: 0,
      maxSeq: Number.MAX_SAFE_INTEGER,
      onRecord: (record) => record.seq < 2,
    });
    expect(result.end).toBe(parts[0]!.length);
  });
});
