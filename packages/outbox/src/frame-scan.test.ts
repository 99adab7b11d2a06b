import { describe, expect, it } from 'vitest';
import { encodeFrame, FRAME_HEADER_BYTES } from './frame-codec.js';
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
    const result = scan(Buffer.concat(frames([5, 4, 6, 7])), { maxSeq: 7 });
    expect(result.seqs).toEqual([5, 6, 7]);
    expect(result.skipped).toHaveLength(1);
    expect(result.tail).toBeUndefined();
    const beyond = scan(Buffer.concat(frames([5, 6, 9])), { maxSeq: 8 });
    expect(beyond.seqs).toEqual([5, 6]);
    expect(beyond.tail).toBeDefined();
  });

  // A payload is opaque and may be client-chosen text: it can hold the bytes of a whole valid frame. When the
  // record holding it is corrupt, a byte-by-byte search starts inside it and must not take that frame.
  function withPlanted(plantedSeq: number) {
    const planted = encodeFrame({
      seq: plantedSeq,
      appendedAtMs: 0,
      key: 'forged',
      topic: 'usage',
      payload: Buffer.from('forged payload'),
    });
    const [first, , ...rest] = frames([1, 2, 3, 4, 5]);
    const carrier = encodeFrame({
      seq: 2,
      appendedAtMs: 20,
      key: 'req-2',
      topic: 'usage',
      payload: Buffer.concat([Buffer.from('model '), planted, Buffer.from(' and more text')]),
    });
    carrier[FRAME_HEADER_BYTES + 20] = carrier[FRAME_HEADER_BYTES + 20]! ^ 0x01; // bit rot in its key
    return { buffer: Buffer.concat([first!, carrier, ...rest]), carrierOffset: first!.length, carrier };
  }

  it.each([
    ['a seq above the real ones that follow', 4],
    ['a seq far beyond anything written', 2 ** 40],
  ])('never resynchronises on a frame planted in a corrupt record: %s', (_name, plantedSeq) => {
    const { buffer, carrierOffset, carrier } = withPlanted(plantedSeq);
    const keys: string[] = [];
    const result = scanFrames(buffer, {
      minSeqExclusive: 0,
      maxSeq: Number.MAX_SAFE_INTEGER,
      onRecord: (record) => keys.push(record.key) > 0,
    });
    expect(keys).toEqual(['req-1', 'req-3', 'req-4', 'req-5']);
    expect(result.skipped).toEqual([
      { offset: carrierOffset, skippedBytes: carrier.length, reason: 'checksum mismatch' },
    ]);
    expect(result.tail).toBeUndefined();
  });

  it('does not search a chunk that ends before the data does: the rest is read whole first', () => {
    const parts = frames([1, 2, 3]);
    const buffer = Buffer.concat(parts);
    buffer[parts[0]!.length + 12] = buffer[parts[0]!.length + 12]! ^ 0x01; // seq of record 2
    const result = scan(buffer, { moreData: true });
    expect(result.seqs).toEqual([1]);
    expect(result.skipped).toEqual([]);
    expect(result.tail).toMatchObject({ offset: parts[0]!.length, incomplete: false });
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
