import { join } from 'node:path';
import { isNotFound } from './ack-cursor.js';
import type { CorruptionReporter } from './corruption-reporter.js';
import { scanFrames } from './frame-scan.js';
import { readAt, type OutboxFs } from './outbox-fs.js';
import type { OutboxRecord } from './outbox-record.js';
import type { SegmentInfo } from './segment-info.js';

/** How much one `read` returns: at most `maxRecords`, and at most `maxBytes` of frames unless one record alone is larger. */
export interface ReadLimits {
  maxRecords: number;
  maxBytes: number;
}

const MIN_CHUNK_BYTES = 64 * 1024;

interface Position {
  afterSeq: number;
  segment: SegmentInfo;
  offset: number;
}

interface Cursor {
  index: number;
  offset: number;
}

/**
 * Reads committed records in seq order. Reading on from where the previous read ended is a seek (the last
 * position is remembered); any other starting seq scans its segment from the start. Only committed bytes
 * are read, so a reader never sees a record whose append has not resolved.
 */
export class SegmentReader {
  private last: Position | undefined;

  constructor(
    private readonly fs: OutboxFs,
    private readonly directory: string,
    private readonly segments: () => readonly SegmentInfo[],
    private readonly reporter: CorruptionReporter,
  ) {}

  /** Committed records with a seq above `afterSeq`, oldest first; empty when there are none yet. */
  async read(afterSeq: number, limits: ReadLimits): Promise<OutboxRecord[]> {
    const segments = [...this.segments()];
    const cursor = this.startFor(segments, afterSeq);
    const records: OutboxRecord[] = [];
    const budget = { bytes: 0 };
    while (cursor.index < segments.length && records.length < limits.maxRecords) {
      const segment = segments[cursor.index]!;
      const end = segment.sizeBytes;
      if (cursor.offset >= end) {
        if (cursor.index === segments.length - 1) break;
        cursor.index += 1;
        cursor.offset = 0;
        continue;
      }
      // A sealed segment's seqs end below the next one's first, as recovery checks them.
      const next = segments[cursor.index + 1];
      const maxSeq = next === undefined ? Number.MAX_SAFE_INTEGER : next.firstSeq - 1;
      const target = { afterSeq, maxSeq, limits, records, budget };
      const full = await this.readSegment(segment, cursor, end, target);
      if (full) break;
    }
    const lastRecord = records[records.length - 1];
    if (lastRecord !== undefined) {
      this.last = { afterSeq: lastRecord.seq, segment: segments[cursor.index]!, offset: cursor.offset };
    }
    return records;
  }

  private startFor(segments: SegmentInfo[], afterSeq: number): Cursor {
    const last = this.last;
    if (last !== undefined && last.afterSeq === afterSeq) {
      const index = segments.indexOf(last.segment);
      if (index >= 0) return { index, offset: last.offset };
    }
    let index = 0;
    while (index + 1 < segments.length && segments[index + 1]!.firstSeq <= afterSeq + 1) index += 1;
    return { index, offset: 0 };
  }

  /** Reads from `cursor` towards `end` until the limits are reached (returns true) or the segment is done. */
  private async readSegment(
    segment: SegmentInfo,
    cursor: Cursor,
    committedEnd: number,
    target: {
      afterSeq: number;
      maxSeq: number;
      limits: ReadLimits;
      records: OutboxRecord[];
      budget: { bytes: number };
    },
  ): Promise<boolean> {
    const { afterSeq, maxSeq, limits, records, budget } = target;
    let end = committedEnd;
    let chunkBytes = Math.max(MIN_CHUNK_BYTES, limits.maxBytes - budget.bytes);
    let full = false;
    while (cursor.offset < end && !full) {
      const wanted = Math.min(chunkBytes, end - cursor.offset);
      const chunk = await this.readChunk(segment, cursor.offset, wanted);
      if (chunk === undefined) {
        cursor.offset = end; // deleted under us: it was acked, so nothing in it is still owed
        return false;
      }
      if (chunk.length < wanted) {
        // Shorter than its committed size: something outside the outbox cut the file. Loud, then carry on.
        end = cursor.offset + chunk.length;
        const reason = 'file is shorter than its committed size';
        this.reporter.report({ file: segment.name, offset: end, skippedBytes: committedEnd - end, reason });
      }
      const chunkEnd = cursor.offset + chunk.length;
      const scan = scanFrames(chunk, {
        minSeqExclusive: Math.max(segment.firstSeq - 1, 0),
        maxSeq,
        moreData: chunkEnd < end,
        onRecord: (record, _offset, frameBytes) => {
          if (record.seq <= afterSeq) return true;
          if (
            records.length >= limits.maxRecords ||
            (records.length > 0 && budget.bytes + frameBytes > limits.maxBytes)
          ) {
            full = true;
            return false;
          }
          records.push({ ...record, payload: record.payload.slice() });
          budget.bytes += frameBytes;
          return true;
        },
      });
      for (const region of scan.skipped)
        this.reporter.report({ file: segment.name, ...region, offset: cursor.offset + region.offset });
      cursor.offset += scan.end;
      if (full || scan.tail === undefined) continue;
      if (chunkEnd < end) {
        // The chunk ended inside a frame, or met a bad one: read again from there with enough bytes to see
        // the whole frame (or, to resynchronise, the rest of the segment: see scanFrames).
        chunkBytes =
          scan.tail.incomplete && scan.tail.frameBytes !== undefined
            ? Math.max(chunkBytes, scan.tail.frameBytes)
            : end - cursor.offset;
        continue;
      }
      this.reporter.report({
        file: segment.name,
        offset: cursor.offset,
        skippedBytes: end - cursor.offset,
        reason: scan.tail.reason,
      });
      cursor.offset = end;
    }
    if (!full && cursor.offset >= end) cursor.offset = committedEnd;
    return full;
  }

  private async readChunk(segment: SegmentInfo, offset: number, length: number): Promise<Buffer | undefined> {
    let file;
    try {
      file = await this.fs.open(join(this.directory, segment.name), 'r');
    } catch (error: unknown) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
    try {
      return await readAt(file, offset, length);
    } finally {
      await file.close();
    }
  }
}
