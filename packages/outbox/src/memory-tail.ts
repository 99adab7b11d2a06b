import type { OutboxRecord } from './outbox-record.js';
import type { ReadLimits } from './segment-reader.js';

/** Bounds of the in-memory tail; a record is evicted (oldest first) once either is exceeded. */
export interface MemoryTailLimits {
  /** Frame bytes held (default 4 MiB). */
  maxBytes: number;
  /** Records held (default 4096); 0 turns the tail off (every read goes to the segment files). */
  maxRecords: number;
}

export const DEFAULT_MEMORY_TAIL_LIMITS: MemoryTailLimits = { maxBytes: 4 * 1024 * 1024, maxRecords: 4096 };

/** A committed record as the segment files hold it: its frame, and where the payload sits in it. */
export interface TailEntry {
  seq: number;
  appendedAtMs: number;
  key: string;
  topic: string;
  /** The encoded frame (owned by the outbox, never mutated); `frameBytes` is its length. */
  frame: Buffer;
  payloadOffset: number;
}

/**
 * The most recently committed records, so that a shipper keeping up reads them from memory instead of
 * re-reading (and re-checksumming) the segment it just wrote. Invariant: every committed record with a seq
 * above `coveredAfter` is held, in seq order; a read starting below that goes to disk. Eviction (by the
 * limits, or once acked) only raises `coveredAfter`. Entries hold the frame that was written, so what a
 * read returns is what a disk read of the same records would return.
 */
export class MemoryTail {
  private entries: TailEntry[] = [];
  private head = 0;
  private bytes = 0;
  private coveredAfter: number;

  /** `committedSeq`: the last seq already on disk at open; everything after it will be added here. */
  constructor(
    private readonly limits: MemoryTailLimits,
    committedSeq: number,
  ) {
    this.coveredAfter = committedSeq;
  }

  /** Adds records just committed (seqs increasing, above every held one), then evicts down to the limits. */
  add(entries: readonly TailEntry[]): void {
    if (this.limits.maxRecords <= 0) {
      const last = entries[entries.length - 1];
      if (last !== undefined) this.coveredAfter = last.seq;
      return;
    }
    for (const entry of entries) {
      this.entries.push(entry);
      this.bytes += entry.frame.length;
    }
    while (this.size > 0 && (this.size > this.limits.maxRecords || this.bytes > this.limits.maxBytes)) {
      this.dropOldest();
    }
    this.compact();
  }

  /** Forgets records at or below `seq` (acked: no reader needs them again). */
  dropThrough(seq: number): void {
    while (this.size > 0 && this.entries[this.head]!.seq <= seq) this.dropOldest();
    this.coveredAfter = Math.max(this.coveredAfter, seq);
    this.compact();
  }

  /** Records held. */
  get size(): number {
    return this.entries.length - this.head;
  }

  /** Frame bytes held. */
  get heldBytes(): number {
    return this.bytes;
  }

  /**
   * Committed records above `afterSeq` within `limits` (the disk reader's rule: at most `maxRecords`, at
   * most `maxBytes` of frames unless the first record alone is larger), or undefined when the tail does
   * not cover `afterSeq` (read the segment files instead). Payloads are fresh copies.
   */
  read(afterSeq: number, limits: ReadLimits): OutboxRecord[] | undefined {
    if (afterSeq < this.coveredAfter) return undefined;
    const first = this.firstAbove(afterSeq);
    let end = first;
    let bytes = 0;
    let payloadBytes = 0;
    for (; end < this.entries.length; end += 1) {
      const entry = this.entries[end]!;
      const frameBytes = entry.frame.length;
      if (end - first >= limits.maxRecords || (end > first && bytes + frameBytes > limits.maxBytes)) break;
      bytes += frameBytes;
      payloadBytes += frameBytes - entry.payloadOffset;
    }
    // The same kind of copy as a disk read hands out (a transport may keep or change a payload freely),
    // made once for the whole read: every payload is its own region of one fresh buffer (every byte of it
    // written below). One ArrayBuffer per read instead of one per record, which the next young-generation
    // GC would have to sweep.
    const copy = Buffer.allocUnsafe(payloadBytes);
    const records: OutboxRecord[] = [];
    let offset = 0;
    for (let index = first; index < end; index += 1) {
      const entry = this.entries[index]!;
      const payloadLength = entry.frame.length - entry.payloadOffset;
      copy.set(entry.frame.subarray(entry.payloadOffset), offset);
      records.push({
        seq: entry.seq,
        appendedAtMs: entry.appendedAtMs,
        key: entry.key,
        topic: entry.topic,
        payload: copy.subarray(offset, offset + payloadLength),
      });
      offset += payloadLength;
    }
    return records;
  }

  /** Index of the first held entry with a seq above `afterSeq` (binary search; usually the head). */
  private firstAbove(afterSeq: number): number {
    let low = this.head;
    let high = this.entries.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.entries[middle]!.seq <= afterSeq) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  private dropOldest(): void {
    const entry = this.entries[this.head]!;
    this.entries[this.head] = undefined as unknown as TailEntry; // release the frame now
    this.head += 1;
    this.bytes -= entry.frame.length;
    this.coveredAfter = Math.max(this.coveredAfter, entry.seq);
  }

  private compact(): void {
    if (this.head === this.entries.length) {
      this.entries = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}
