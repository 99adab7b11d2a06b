import { join } from 'node:path';
import { OutboxError } from './outbox-error.js';
import { syncDirectory, writeFully, writeFullySync, type OutboxFile, type OutboxFs } from './outbox-fs.js';
import type { OutboxLogger } from './outbox-events.js';
import { segmentFileName } from './segment-file-name.js';
import type { SegmentInfo } from './segment-info.js';

export interface SegmentLogOptions {
  fs: OutboxFs;
  directory: string;
  /** fdatasync written data and fsync the directory on create/delete. Off only for benchmarks: a crash can lose acknowledged appends. */
  fsync: boolean;
  /**
   * true: `appendBatch` fdatasyncs every batch before resolving. false: it resolves once the batch is written
   * (in the page cache) and `sync()`, called by the owner, makes it durable later; rotation and `close`
   * sync what is still unsynced.
   */
  syncEachBatch: boolean;
  /** Wall-clock ms, for `SyncStats.lastSyncAtMs`. */
  nowMs(): number;
  /**
   * Batches up to this many bytes are written with a synchronous pwrite(2) on the calling thread (when the
   * fs offers `writeSync` and the file its `fd`), larger ones through the libuv threadpool; 0 = always the
   * threadpool. A small write into the page cache takes microseconds, less than the threadpool round trip.
   */
  maxSyncWriteBytes: number;
  /** A segment at or over this size is sealed before the next batch, in bytes. */
  segmentMaxBytes: number;
  logger: OutboxLogger | undefined;
}

/** Written-but-not-yet-fdatasynced data (always none when every batch is synced, unless fsync is off). */
export interface SyncStats {
  /** Records written since the last successful fdatasync. */
  unsyncedRecords: number;
  /** Their bytes. */
  unsyncedBytes: number;
  /** Wall-clock ms of the last successful fdatasync of the newest segment (or of the open). */
  lastSyncAtMs: number;
}

interface Totals {
  records: number;
  bytes: number;
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
  /** Totals since open: written (write() returned) and made durable (fdatasync returned). */
  private written: Totals = { records: 0, bytes: 0 };
  private synced: Totals = { records: 0, bytes: 0 };
  private lastSyncAtMs: number;
  /** Serialises `sync`, rotation and `close` (writes run alongside a sync: the sync covers what was written before it). */
  private exclusive: Promise<void> = Promise.resolve();

  constructor(
    private readonly options: SegmentLogOptions,
    private readonly list: SegmentInfo[],
  ) {
    this.lastSyncAtMs = options.nowMs();
  }

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

  syncStats(): SyncStats {
    return {
      unsyncedRecords: this.written.records - this.synced.records,
      unsyncedBytes: this.written.bytes - this.synced.bytes,
      lastSyncAtMs: this.lastSyncAtMs,
    };
  }

  /** Whether fdatasync is on at all (off only in benchmarks). */
  get syncsData(): boolean {
    return this.options.fsync;
  }

  /** True when something was written and not yet fdatasynced (and fsync is on). */
  get hasUnsynced(): boolean {
    return this.options.fsync && this.written.bytes !== this.synced.bytes;
  }

  /**
   * Makes the newest recovered segment durable (after a `kill -9`, its last writes may still be only in the
   * page cache). For the interval mode, at open: what an earlier process wrote gets the same guarantee as
   * what this one writes.
   */
  async syncNewest(): Promise<void> {
    const newest = this.list[this.list.length - 1];
    if (!this.options.fsync || newest === undefined) return;
    await this.runExclusive(async () => {
      this.active ??= await this.options.fs.open(join(this.options.directory, newest.name), 'r+');
      await this.datasyncActive(this.active);
    });
  }

  /**
   * fdatasyncs the newest segment: everything whose write completed before the call is durable once it
   * resolves. Rejects with `OutboxError` `failed` (and the log turns failed for good) when the fdatasync
   * fails. Resolves at once when nothing is unsynced, fsync is off, or the log is closed.
   */
  sync(): Promise<void> {
    return this.runExclusive(async () => {
      if (this.closed || !this.hasUnsynced) return;
      this.assertWritable();
      if (this.active !== undefined) await this.datasyncActive(this.active);
    });
  }

  /**
   * Writes `bytes` (`records` whole frames, seqs from `firstSeq`) at the end of the log and, with
   * `syncEachBatch`, makes them durable before resolving. On a write error the segment is cut back to its previous size and the batch rejects with `write_failed`
   * (the log stays usable); when that cut or the fsync fails the log turns `failed` for good.
   */
  async appendBatch(bytes: Buffer, firstSeq: number, records: number): Promise<void> {
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
      const { fs, maxSyncWriteBytes } = this.options;
      if (bytes.length <= maxSyncWriteBytes && fs.writeSync !== undefined && file.fd !== undefined) {
        const fd = file.fd;
        writeFullySync((...args) => fs.writeSync!(fd, ...args), bytes, before);
      } else {
        await writeFully(file, bytes, before);
      }
    } catch (error: unknown) {
      await this.cutBack(file, before, error);
      throw new OutboxError('write_failed', `outbox write failed: ${describe(error)}`, { cause: error });
    }
    this.written = { records: this.written.records + records, bytes: this.written.bytes + bytes.length };
    if (this.options.fsync && this.options.syncEachBatch) await this.datasyncActive(file);
    // Readers see the batch only now (after its fdatasync, in the per-batch mode).
    segment.sizeBytes = before + bytes.length;
  }

  /**
   * Deletes sealed segments whose every seq is at or below `ackedSeq`; resolves with the bytes they held.
   * Deletion errors are logged, not thrown: the files are retried on the next ack or open.
   */
  async deleteAckedThrough(ackedSeq: number): Promise<number> {
    let deleted = 0;
    let deletedBytes = 0;
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
      deletedBytes += oldest.sizeBytes;
    }
    // Not syncing the directory only risks a deleted segment reappearing after a crash; recovery deletes it again.
    if (deleted > 0 && this.options.fsync && !this.closed) {
      await syncDirectory(this.options.fs, this.options.directory).catch((error: unknown) => {
        this.options.logger?.warn({ err: error }, 'outbox: directory fsync after deletion failed');
      });
    }
    return deletedBytes;
  }

  /** Syncs what is still unsynced (unless failed), then closes the file; rejects when that last sync fails (the file is closed anyway). */
  close(): Promise<void> {
    return this.runExclusive(async () => {
      this.closed = true;
      const file = this.active;
      this.active = undefined;
      try {
        if (file !== undefined && this.hasUnsynced && this.failedWith === undefined)
          await this.datasyncActive(file);
      } finally {
        await file?.close();
      }
    });
  }

  /** fdatasyncs `file` (the active segment); a failure turns the log failed for good. */
  private async datasyncActive(file: OutboxFile): Promise<void> {
    const target = this.written;
    try {
      await file.datasync();
    } catch (error: unknown) {
      this.failedWith = error;
      throw new OutboxError('failed', `outbox fsync failed: ${describe(error)}`, { cause: error });
    }
    this.synced = target;
    this.lastSyncAtMs = this.options.nowMs();
  }

  private runExclusive(task: () => Promise<void>): Promise<void> {
    const run = this.exclusive.then(task);
    this.exclusive = run.catch(() => undefined);
    return run;
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
    // Sealing: what is still unsynced in the old segment is synced first (a sealed segment is never synced
    // again), under the same lock as `sync` so that no sync runs on a closing file.
    await this.runExclusive(async () => {
      const previous = this.active;
      if (previous === undefined) return;
      if (this.hasUnsynced) await this.datasyncActive(previous);
      this.active = undefined;
      await previous.close();
    });
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
