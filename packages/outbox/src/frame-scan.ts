import { decodeFrameAt, FRAME_HEADER_BYTES, type DecodeResult } from './frame-codec.js';
import type { OutboxRecord } from './outbox-record.js';

/** Bytes that did not decode but were followed by a valid frame: skipped, and reported by the caller. */
export interface SkippedRegion {
  offset: number;
  skippedBytes: number;
  reason: string;
}

/** Bytes from `offset` to the end of the buffer that did not decode, with no valid frame after them. */
export interface UndecodedTail {
  offset: number;
  reason: string;
  /** The tail is the start of a frame that runs past the end of the buffer (size known when its header was readable). */
  incomplete: boolean;
  /** The size that frame claims, when `incomplete` and its header was readable. */
  frameBytes: number | undefined;
}

export interface ScanOptions {
  /** Records must have a seq above this (exclusive); also bounds resynchronisation. */
  minSeqExclusive: number;
  /** Records must have a seq at or below this (inclusive); a sealed segment's bound is the next one's first seq − 1. */
  maxSeq: number;
  /**
   * The buffer is a chunk that ends before the data does: the scan stops at the first frame that does not
   * decode (the `tail`, to read again whole, or with the rest of the data to resynchronise) instead of
   * searching past it, where its own payload could hold bytes that decode as a frame.
   */
  moreData?: boolean;
  /**
   * The buffer is the newest segment, whose end a crash may have torn: the first frame that does not decode
   * ends the scan (it and everything after it are the `tail`), with no search past it. A torn frame's
   * payload holds client-supplied bytes (a model name, message text) that can form a valid frame, so past a
   * bad frame nothing tells a real record from bytes inside the torn one.
   */
  stopAtBadFrame?: boolean;
  /**
   * Called for each valid frame in order, with its offset in the buffer and its size. Return false to stop
   * the scan before this frame (it is not consumed: `end` is its offset). `record.payload` is a view into
   * `buffer` (no copy).
   */
  onRecord(record: OutboxRecord, offset: number, frameBytes: number): boolean;
}

export interface ScanResult {
  /** Offset just after the last frame the scan consumed (the resume point). */
  end: number;
  skipped: SkippedRegion[];
  tail: UndecodedTail | undefined;
}

/**
 * Walks the frames of `buffer` in order. A frame that does not decode (bad length, checksum, order) starts a
 * search, byte by byte, for the next offset holding a valid frame with an in-range, increasing seq whose
 * chain of valid frames runs to the end of the buffer (`findResyncFrame`): when one is found the bad bytes
 * are a `skipped` region, otherwise they are the `tail` (a torn write when this is the end of the newest
 * segment; see `stopAtBadFrame`). Never throws on bad data.
 */
export function scanFrames(buffer: Buffer, options: ScanOptions): ScanResult {
  const skipped: SkippedRegion[] = [];
  let offset = 0;
  let lastSeq = options.minSeqExclusive;
  while (offset < buffer.length) {
    const decoded = decodeFrameAt(buffer, offset);
    if (decoded.kind === 'record' && decoded.record.seq > lastSeq && decoded.record.seq <= options.maxSeq) {
      if (!options.onRecord(decoded.record, offset, decoded.frameBytes))
        return { end: offset, skipped, tail: undefined };
      lastSeq = decoded.record.seq;
      offset += decoded.frameBytes;
      continue;
    }
    // A chunk that ends before the data does cannot show whether a frame found past a bad one chains to the
    // end (see findResyncFrame): the caller reads the rest whole and scans again from here.
    if (options.stopAtBadFrame === true || options.moreData === true)
      return { end: offset, skipped, tail: describeTail(decoded, offset) };
    const next = findResyncFrame(buffer, offset + 1, lastSeq, options.maxSeq);
    if (next === undefined) return { end: offset, skipped, tail: describeTail(decoded, offset) };
    skipped.push({ offset, skippedBytes: next - offset, reason: describeFailure(decoded) });
    offset = next;
  }
  return { end: offset, skipped, tail: undefined };
}

function describeTail(decoded: DecodeResult, offset: number): UndecodedTail {
  const incomplete = decoded.kind === 'incomplete';
  return {
    offset,
    reason: describeFailure(decoded),
    incomplete,
    frameBytes: incomplete ? decoded.frameBytes : undefined,
  };
}

function describeFailure(decoded: DecodeResult): string {
  if (decoded.kind === 'corrupt') return decoded.reason;
  if (decoded.kind === 'incomplete') return 'frame runs past the end of the data';
  return `seq ${decoded.record.seq} out of order or out of range`;
}

/**
 * The first offset from `from` where a valid frame starts an unbroken chain of valid frames, seqs increasing
 * and in range, that ends exactly at the end of the buffer (the end of the data).
 *
 * Why the chain: the bad bytes are often a record whose payload (client-chosen text) holds a whole valid
 * frame, which a search meets before the real next frame. Seq order alone cannot reject it (seqs have gaps
 * after failed writes and corruption, so "the next seq" is unknown), and one accepted with a high seq would
 * push out, as out of order, every real record after it. A frame planted inside a record cannot chain to the
 * end unless it links up with the real frames after that record, which it can only do with a seq below
 * theirs: so a real record after the resync point is never skipped, and a planted frame can at worst stand in
 * for a seq the corruption destroyed (telling those apart would need a keyed checksum: a format change).
 * The price: with two bad regions in one buffer, the valid records between them are skipped too.
 *
 * `deadEnds` holds offsets of frames on a chain already found broken: a chain reaching one shares its broken
 * rest, so each frame is walked at most once per search.
 */
function findResyncFrame(buffer: Buffer, from: number, lastSeq: number, maxSeq: number): number | undefined {
  const deadEnds = new Set<number>();
  // The seq is checked before the checksum: it is a cheap filter that rejects almost every offset.
  for (let offset = from; offset + FRAME_HEADER_BYTES + 16 <= buffer.length; offset += 1) {
    const seq = Number(buffer.readBigUInt64BE(offset + FRAME_HEADER_BYTES));
    if (seq <= lastSeq || seq > maxSeq || deadEnds.has(offset)) continue;
    if (chainsToEnd(buffer, offset, lastSeq, maxSeq, deadEnds)) return offset;
  }
  return undefined;
}

function chainsToEnd(
  buffer: Buffer,
  start: number,
  lastSeq: number,
  maxSeq: number,
  deadEnds: Set<number>,
): boolean {
  const walked: number[] = [];
  let offset = start;
  let previousSeq = lastSeq;
  while (offset < buffer.length && !deadEnds.has(offset)) {
    const decoded = decodeFrameAt(buffer, offset);
    if (decoded.kind !== 'record' || decoded.record.seq <= previousSeq || decoded.record.seq > maxSeq) break;
    walked.push(offset);
    previousSeq = decoded.record.seq;
    offset += decoded.frameBytes;
  }
  if (offset === buffer.length) return true;
  for (const visited of walked) deadEnds.add(visited);
  return false;
}
