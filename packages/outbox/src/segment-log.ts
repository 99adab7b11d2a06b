import { join } from 'node:path';
import { OutboxError } from './outbox-error.js';
import { syncDirectory, writeFully, type OutboxFile, type OutboxFs } from './outbox-fs.js';
import type { OutboxLogger } from './outbox-events.js';
import { segmentFileName } from './segment-file-name.js';
import type { SegmentInfo } from './segment-info.js';

export interface SegmentLogOptions {
  fs: OutboxFs;
  directory: string;
  /** fdatasync each batch and fsync the directory on create/delete. Off only for benchmarks: a crash can lose acknowledged appends. */
  fsync: boolean;
  /** A segment at or over this size is sealed before the next batch, in bytes. */
  segmentMaxBytes: number;
  logger: OutboxLogger | undefined;
}

/**
 * The segment files: appends batches to the newest one (rotating by size), and deletes sealed segments once
 * acked. States: open → failed (an fsync failed: the kernel may have dropped the dirty pages, so nothing
 * written since the last good fsync can be trusted until a reopen re-validates the files) → closed.
 */
export class SegmentLog {
  private active: OutboxFile | undefined;
  private failedWith: unknown;
  private closed = false;

  constructor(
    private readonly options: SegmentLogOptions,
    private readonly list: SegmentInfo[],
  ) {}

  /** Segments oldest first; the array and its entries change as the log grows and deletes. */
  get segments(): readonly SegmentInfo[] {
    return this.list;
  }

  /** Bytes in all segment files. */
  get diskBytes(): number {
    return this.list.reduce((sum, segment) => sum + segment.sizeBytes, 0);
  }

  get failed(): boolean {
    return this.failedWith !== undefined;
  }

  /**
   * Writes `bytes` (whole frames, seqs from `firstSeq`) at the end of the log and makes them durable.
   * On a write error the segment is cut back to its previous size and the batch rejects with `write_failed`
   * (the log stays usable); when that cut or the fsync fails the log turns `failed` for good.
   */
  async appendBatch(bytes: Buffer, firstSeq: number): Promise<void> {
    this.assertWritable();
    let segment: SegmentInfo;
    try {
      segment = await this.segmentFor(firstSeq);
    } catch (error: unknown) {
      if (error instanceof OutboxError) throw error;
      throw new OutboxError('write_failed', `outbox could not open a segment: ${describe(error)}`, {
        cause: error,
      });
    }
    const file = this.active!;
    const before = segment.sizeBytes;
    try {
      await writeFully(file, bytes, before);
    } catch (error: unknown) {
      await this.cutBack(file, before, error);
      throw new OutboxError('write_failed', `outbox write failed: ${describe(error)}`, { cause: error });
    }
    if (this.options.fsync) {
      try {
        await file.datasync();
      } catch (error: unknown) {
        this.failedWith = error;
        throw new OutboxError('failed', `outbox fsync failed: ${describe(error)}`, { cause: error });
      }
    }
    segment.sizeBytes = before + bytes.length;
  }

  /** Deletes sealed segments whose every seq is at or below `ackedSeq`. Deletion errors are logged, not thrown: the files are retried on the next ack or open. */
  async deleteAckedThrough(ackedSeq: number): Promise<void> {
    let deleted = 0;
    while (this.list.length > 1 && this.list[1]!.firstSeq - 1 <= ackedSeq) {
      const oldest = this.list[0]!;
      try {
        await this.options.fs.unlink(join(this.options.directory, oldest.name));
      } catch (error: unknown) {
        this.options.logger?.warn(
          { err: error, file: oldest.name },
          'outbox: could not delete an acked segment; will retry',
        );
        break;
      }
      this.list.shift();
      deleted += 1;
    }
    // Not syncing the directory only risks a deleted segment reappearing after a crash; recovery deletes it again.
    if (deleted > 0 && this.options.fsync && !this.closed) {
      await syncDirectory(this.options.fs, this.options.directory).catch((error: unknown) => {
        this.options.logger?.warn({ err: error }, 'outbox: directory fsync after deletion failed');
      });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const file = this.active;
    this.active = undefined;
    await file?.close();
  }

  private assertWritable(): void {
    if (this.closed) throw new OutboxError('closed', 'outbox is closed');
    if (this.failedWith !== undefined) {
      throw new OutboxError(
        'failed',
        `outbox failed earlier and must be reopened: ${describe(this.failedWith)}`,
        { cause: this.failedWith },
      );
    }
  }

  private async segmentFor(firstSeq: number): Promise<SegmentInfo> {
    const newest = this.list[this.list.length - 1];
    if (newest !== undefined && newest.sizeBytes < this.options.segmentMaxBytes) {
      this.active ??= await this.options.fs.open(join(this.options.directory, newest.name), 'r+');
      return newest;
    }
    const previous = this.active;
    this.active = undefined;
    await previous?.close();
    const segment: SegmentInfo = { firstSeq, name: segmentFileName(firstSeq), sizeBytes: 0 };
    this.active = await this.options.fs.open(join(this.options.directory, segment.name), 'wx');
    this.list.push(segment);
    // The new file's directory entry must be durable before any record in it is reported durable.
    if (this.options.fsync) {
      try {
        await syncDirectory(this.options.fs, this.options.directory);
      } catch (error: unknown) {
        this.failedWith = error;
        throw new OutboxError('failed', `outbox directory fsync failed: ${describe(error)}`, {
          cause: error,
        });
      }
    }
    return segment;
  }

  private async cutBack(file: OutboxFile, size: number, writeError: unknown): Promise<void> {
    try {
      await file.truncate(size);
    } catch (error: unknown) {
      this.failedWith = error;
      this.options.logger?.error(
        { err: error, writeError },
        'outbox: could not truncate after a failed write',
      );
    }
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
