// One file on purpose (~430 lines, over half of them doc comments): Outbox is the one class whose state
// (next/committed/acked seq, reserved bytes, status) every operation reads and changes; its parts that stand
// alone already live beside it (group-commit, segment-log, segment-reader, memory-tail, sync-scheduler).
import { readAckCursor, writeAckCursor } from './ack-cursor.js';
import type { BacklogStats, Backlog } from './backlog.js';
import { createSystemClock, type Clock } from './clock.js';
import { CorruptionReporter } from './corruption-reporter.js';
import { encodeFrame, frameBytes, MAX_RECORD_CONTENT_BYTES } from './frame-codec.js';
import { GroupCommit } from './group-commit.js';
import {
  DEFAULT_MEMORY_TAIL_LIMITS,
  MemoryTail,
  type MemoryTailLimits,
  type TailEntry,
} from './memory-tail.js';
import { OutboxError, OutboxFullError } from './outbox-error.js';
import { emitEvent, type OutboxEvents, type OutboxLogger } from './outbox-events.js';
import { createNodeOutboxFs, syncCreatedDirectories, type OutboxFs } from './outbox-fs.js';
import type { OutboxAppend, OutboxRecord } from './outbox-record.js';
import { recoverSegments } from './recover-segments.js';
import { SegmentLog, type SyncStats } from './segment-log.js';
import { SegmentReader, type ReadLimits } from './segment-reader.js';
import { SyncScheduler } from './sync-scheduler.js';

/**
 * When an `append` resolves, and what it then survives (see the package README, "Durability"):
 * - `per-batch`: after its batch is written **and** fdatasynced: survives a process crash and, on a disk
 *   that honours flushes, an OS crash or power loss.
 * - `interval`: after its batch is written (the kernel has the bytes): survives a process crash (`kill -9`,
 *   OOM kill); a background fdatasync runs at most every `intervalMs` while something is unsynced, so an OS
 *   crash or power loss can lose the records of about the last `intervalMs` (+ one fdatasync). An fdatasync
 *   error turns the outbox `failed`, as in `per-batch`.
 */
export type OutboxSyncMode = { mode: 'per-batch' } | { mode: 'interval'; intervalMs: number };

/** `Outbox.syncStats()`: what an OS crash could lose right now, for gauges. */
export interface OutboxSyncStats extends SyncStats {
  mode: OutboxSyncMode['mode'];
}

export interface OutboxOptions {
  /** Directory owned by this outbox (created if missing). One process at a time: there is no lock file. */
  directory: string;
  /**
   * fdatasync every batch (default true). `false` is for benchmarks only and is UNSAFE: an append then
   * resolves before its bytes are durable, and a machine crash (not just `kill -9`) can lose it.
   */
  fsync?: boolean;
  /** Durability mode (default `{ mode: 'per-batch' }`); ignored when `fsync` is false. */
  sync?: OutboxSyncMode;
  /**
   * Recently committed records kept in memory so that `read` after them needs no disk I/O (default 4 MiB /
   * 4096 records; `maxRecords: 0` turns it off). Reads starting before what it holds go to the segment files.
   */
  memoryTail?: Partial<MemoryTailLimits>;
  /**
   * How long an append arriving at an idle outbox waits for others to share its write (+ fsync), in ms
   * (default 2 in the per-batch mode, 0 in the interval mode). Adds up to this much latency at low load;
   * under load batches form while the previous commit runs, whatever this value. 0 still batches appends
   * made in the same event-loop turn.
   */
  maxBatchDelayMs?: number;
  /**
   * Batches up to this many bytes are written with a synchronous pwrite(2) on the event-loop thread instead
   * of through the libuv threadpool (default 0: never). Writing a few KiB into the page cache takes
   * microseconds, less CPU than a threadpool round trip; it blocks the loop only if the kernel throttles
   * writers (a disk far behind on writeback). The fdatasync always runs in the threadpool.
   */
  maxSyncWriteBytes?: number;
  /** Largest batch written with one fsync, in bytes (default 1 MiB). */
  maxBatchBytes?: number;
  /**
   * A batch whose first append came this many ms ago is committed at the next append rather than when its
   * delay runs out (default: unset, never). See `GroupCommitOptions.maxCollectMs`.
   */
  maxBatchCollectMs?: number;
  /**
   * Segment size that triggers rotation, in bytes (default 16 MiB; at most half of `maxBytes`). Only sealed
   * segments are ever deleted, so a newest segment allowed to fill `maxBytes` would keep the outbox full.
   */
  segmentMaxBytes?: number;
  /** Most bytes the segment files may take on disk (default 1 GiB); an append beyond it fails with `OutboxFullError`. */
  maxBytes?: number;
  /** Largest key + topic + payload accepted by `append`, in bytes (default 4 MiB, at most 64 MiB − 20 B). */
  maxRecordBytes?: number;
  clock?: Clock;
  fs?: OutboxFs;
  logger?: OutboxLogger;
  events?: OutboxEvents;
}

export type OutboxState = 'open' | 'failed' | 'closing' | 'closed';

interface OutboxSettings {
  directory: string;
  fs: OutboxFs;
  clock: Clock;
  maxBytes: number;
  maxRecordBytes: number;
  events: OutboxEvents;
  logger: OutboxLogger | undefined;
}

type PendingFrame = TailEntry;

/**
 * The durable local outbox: `append` resolves only once the record is durable per the sync mode (group
 * commit: one write, + fsync in the per-batch mode, per batch of concurrent appends), `read` returns
 * committed records in order (recent ones from memory), `ack` moves the committed cursor and deletes fully
 * acked segments. After a crash `Outbox.open` truncates a torn tail, reports and skips corrupt regions, and
 * serves every record above the cursor again (at least once).
 * States: open → (failed: fsync error, appends rejected) → closing → closed.
 */
export class Outbox implements AsyncDisposable {
  private status: OutboxState = 'open';
  private closing: Promise<void> | undefined;
  private nextSeq: number;
  private committedSeq: number;
  private ackedThrough: number;
  private reservedBytes: number;
  private ackChain: Promise<void> = Promise.resolve();
  private readonly listeners = new Set<() => void>();
  private readonly commits: GroupCommit<PendingFrame>;
  private readonly reader: SegmentReader;
  private readonly tail: MemoryTail;
  private readonly syncer: SyncScheduler | undefined;

  private constructor(
    private readonly settings: OutboxSettings,
    private readonly log: SegmentLog,
    private readonly pending: Backlog,
    recovered: { ackedSeq: number; lastSeq: number },
    reporter: CorruptionReporter,
    groupCommit: { maxDelayMs: number; maxBatchBytes: number; maxCollectMs: number | undefined },
    private readonly syncMode: OutboxSyncMode,
    tailLimits: MemoryTailLimits,
  ) {
    this.ackedThrough = recovered.ackedSeq;
    this.committedSeq = Math.max(recovered.lastSeq, recovered.ackedSeq);
    const newest = log.segments[log.segments.length - 1];
    this.nextSeq = Math.max(this.committedSeq, (newest?.firstSeq ?? 1) - 1) + 1;
    this.reservedBytes = log.diskBytes;
    this.commits = new GroupCommit<PendingFrame>({
      clock: settings.clock,
      ...groupCommit,
      commit: (batch) => this.commitBatch(batch),
    });
    this.reader = new SegmentReader(settings.fs, settings.directory, () => log.segments, reporter);
    this.tail = new MemoryTail(tailLimits, this.committedSeq);
    this.syncer =
      syncMode.mode === 'interval' && log.syncsData
        ? new SyncScheduler({
            clock: settings.clock,
            intervalMs: syncMode.intervalMs,
            hasUnsynced: () => log.hasUnsynced,
            sync: () => this.backgroundSync(),
            onFailed: (error) =>
              settings.logger?.error(
                { err: error },
                'outbox fdatasync failed: appends are refused until the outbox is reopened',
              ),
          })
        : undefined;
  }

  /** Opens (creating or recovering) the outbox in `options.directory`. Rejects only on I/O errors, never on bad data. */
  static async open(options: OutboxOptions): Promise<Outbox> {
    const fs = options.fs ?? createNodeOutboxFs();
    const fsync = options.fsync ?? true;
    const syncMode = validSyncMode(options.sync ?? { mode: 'per-batch' });
    const maxRecordBytes = validMaxRecordBytes(options.maxRecordBytes ?? 4 * 1024 * 1024);
    const events = options.events ?? {};
    const reporter = new CorruptionReporter(events, options.logger);
    const created = await fs.mkdir(options.directory, { recursive: true });
    if (created !== undefined && fsync) await syncCreatedDirectories(fs, options.directory, created);
    const cursor = await readAckCursor(fs, options.directory);
    if (cursor.problem !== undefined)
      reporter.report({ file: 'acked.json', offset: 0, skippedBytes: 0, reason: cursor.problem });
    const deps = { fs, directory: options.directory, fsync, reporter, events, logger: options.logger };
    const recovered = await recoverSegments(deps, cursor.ackedSeq);
    // A cursor that cannot be trusted (reported above) re-ships everything still on disk: it becomes the
    // lowest seq the surviving segments can hold − 1 (their names are lower bounds), never a guess above it.
    const ackedSeq =
      cursor.problem === undefined
        ? cursor.ackedSeq
        : Math.max(0, (recovered.segments[0]?.firstSeq ?? 1) - 1);
    const clock = options.clock ?? createSystemClock();
    const maxBytes = options.maxBytes ?? 1024 * 1024 * 1024;
    const log = new SegmentLog(
      {
        ...deps,
        // The newest segment is never deleted: it must rotate well before it could fill maxBytes on its own.
        segmentMaxBytes: Math.min(options.segmentMaxBytes ?? 16 * 1024 * 1024, Math.ceil(maxBytes / 2)),
        syncEachBatch: syncMode.mode === 'per-batch',
        maxSyncWriteBytes: options.maxSyncWriteBytes ?? 0,
        nowMs: () => clock.nowMs(),
      },
      recovered.segments,
    );
    // The interval mode's guarantee covers what an earlier process (killed before its next sync) wrote too.
    if (syncMode.mode === 'interval') await log.syncNewest();
    const settings: OutboxSettings = {
      maxBytes,
      maxRecordBytes,
      clock,
      events,
      logger: options.logger,
      fs,
      directory: options.directory,
    };
    const groupCommit = {
      maxDelayMs: options.maxBatchDelayMs ?? (syncMode.mode === 'interval' ? 0 : 2),
      maxBatchBytes: options.maxBatchBytes ?? 1024 * 1024,
      maxCollectMs: options.maxBatchCollectMs,
    };
    const outbox = new Outbox(
      settings,
      log,
      recovered.backlog,
      { ackedSeq, lastSeq: recovered.lastSeq },
      reporter,
      groupCommit,
      syncMode,
      { ...DEFAULT_MEMORY_TAIL_LIMITS, ...options.memoryTail },
    );
    options.logger?.info(
      { directory: options.directory, ackedSeq, sync: syncMode, ...outbox.backlog() },
      'outbox opened',
    );
    return outbox;
  }

  /**
   * Appends a record and resolves with its seq once it is durable (per the sync mode: fdatasynced, or
   * written to the kernel in the interval mode). Rejects with `OutboxFullError` (nothing
   * written) when it would take the outbox over `maxBytes`, `OutboxError` `invalid_record` for an oversized
   * record, `closed` after `close()`, `failed`/`write_failed` on I/O errors (the record is then not committed).
   */
  async append(record: OutboxAppend): Promise<number> {
    if (this.state() !== 'open') throw this.notOpenError();
    const keyBytes = Buffer.byteLength(record.key, 'utf8');
    const topicBytes = Buffer.byteLength(record.topic, 'utf8');
    if (
      keyBytes > 0xffff ||
      topicBytes > 0xffff ||
      keyBytes + topicBytes + record.payload.length > this.settings.maxRecordBytes
    ) {
      throw new OutboxError(
        'invalid_record',
        `outbox record too large (key ${keyBytes} B, topic ${topicBytes} B, payload ${record.payload.length} B)`,
      );
    }
    const size = frameBytes(keyBytes, topicBytes, record.payload.length);
    if (this.reservedBytes + size > this.settings.maxBytes)
      throw new OutboxFullError(this.reservedBytes, this.settings.maxBytes);
    const seq = this.nextSeq;
    this.nextSeq += 1;
    // As the frame stores them, so that a read from the memory tail equals a read from disk.
    const appendedAtMs = Math.max(0, Math.trunc(this.settings.clock.nowMs()));
    // A plain literal, not `{ ...record, seq, appendedAtMs }`: the spread cost ~2 µs per append (README).
    const frame = encodeFrame({
      key: record.key,
      topic: record.topic,
      payload: record.payload,
      seq,
      appendedAtMs,
    });
    this.reservedBytes += size;
    try {
      await this.commits.submit(
        {
          seq,
          appendedAtMs,
          key: asStored(record.key, keyBytes),
          topic: asStored(record.topic, topicBytes),
          frame,
          payloadOffset: size - record.payload.length,
        },
        size,
      );
    } catch (error: unknown) {
      this.reservedBytes -= size;
      throw error;
    }
    return seq;
  }

  /** Committed records with a seq above `afterSeq`, oldest first (none yet: empty array). Rejects on I/O errors. */
  read(afterSeq: number, limits: ReadLimits): Promise<OutboxRecord[]> {
    const fromMemory = this.tail.read(afterSeq, limits);
    return fromMemory === undefined ? this.reader.read(afterSeq, limits) : Promise.resolve(fromMemory);
  }

  /**
   * Durably records that every seq at or below `throughSeq` was delivered, then deletes segments that hold
   * nothing newer. Acks are applied in call order; one at or below the cursor is a no-op. Rejects with a
   * RangeError beyond the last committed seq, or on an I/O error (the cursor then stays where it was).
   */
  ack(throughSeq: number): Promise<void> {
    if (throughSeq > this.committedSeq) {
      return Promise.reject(
        new RangeError(`cannot ack seq ${throughSeq}: last committed seq is ${this.committedSeq}`),
      );
    }
    const run = this.ackChain.then(() => this.persistAck(throughSeq));
    // The caller sees the error; later acks still run (and retry the write).
    this.ackChain = run.catch(() => undefined);
    return run;
  }

  /** Seq of the last record known delivered (the committed cursor); 0 when nothing was ever acked. */
  get ackedSeq(): number {
    return this.ackedThrough;
  }

  /** Seq of the newest durable record (or the cursor, when every record has been acked and deleted). */
  get lastCommittedSeq(): number {
    return this.committedSeq;
  }

  /** Committed, unacked records: count, bytes and the oldest one's append time. */
  backlog(): BacklogStats {
    return this.pending.stats();
  }

  /** Bytes the segment files take, plus appends waiting to be written; what `maxBytes` limits. */
  get usedBytes(): number {
    return this.reservedBytes;
  }

  /** Records and bytes written but not yet fdatasynced, and when the last fdatasync finished. */
  syncStats(): OutboxSyncStats {
    return { mode: this.syncMode.mode, ...this.log.syncStats() };
  }

  state(): OutboxState {
    if (this.status === 'open' && this.log.failed) return 'failed';
    return this.status;
  }

  /** Calls `listener` after each commit (new records to read). Returns the unsubscribe function. */
  onCommitted(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Commits appends already made (they resolve), rejects later ones, waits for acks in flight, fdatasyncs
   * what is unsynced, closes files. Rejects when that last fdatasync fails (the outbox is closed anyway).
   */
  close(): Promise<void> {
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private async closeOnce(): Promise<void> {
    this.status = 'closing';
    try {
      await this.commits.drain();
      await this.ackChain;
      await this.syncer?.stop();
    } finally {
      try {
        await this.log.close();
      } finally {
        this.status = 'closed';
        this.listeners.clear();
      }
    }
  }

  private async commitBatch(batch: PendingFrame[]): Promise<void> {
    const startedAtMs = this.settings.clock.nowMs();
    const bytes = batch.length === 1 ? batch[0]!.frame : Buffer.concat(batch.map((item) => item.frame));
    await this.log.appendBatch(bytes, batch[0]!.seq, batch.length);
    for (const item of batch) this.pending.add(item.seq, item.frame.length, item.appendedAtMs);
    this.tail.add(batch);
    this.committedSeq = batch[batch.length - 1]!.seq;
    this.syncer?.written();
    const durationMs = this.settings.clock.nowMs() - startedAtMs;
    emitEvent(this.settings.events, this.settings.logger, 'onCommit', {
      records: batch.length,
      bytes: bytes.length,
      durationMs,
    });
    for (const listener of this.listeners) {
      try {
        listener();
      } catch (error: unknown) {
        // The batch is durable already; a listener's bug must not turn it into a failed append.
        this.settings.logger?.error({ err: error }, 'outbox commit listener threw');
      }
    }
  }

  private async persistAck(throughSeq: number): Promise<void> {
    if (throughSeq <= this.ackedThrough) return;
    // Delivered segments are deleted before the cursor is written: on a full volume the cursor's temp file
    // cannot be created (ENOSPC) until space is freed, and were deletion to wait for the cursor, nothing would
    // ever free it (every ack and append failing for good). Deleting first is safe: every record in them was
    // delivered; a crash before the cursor is written only re-ships the newer records it would have covered.
    // The deleted segments' own bytes: appends committing meanwhile grow the newest one (already reserved).
    const deletedBytes = await this.log.deleteAckedThrough(throughSeq);
    this.reservedBytes -= deletedBytes;
    await writeAckCursor(this.settings.fs, this.settings.directory, throughSeq);
    this.ackedThrough = throughSeq;
    this.pending.ackThrough(throughSeq);
    this.tail.dropThrough(throughSeq);
  }

  /** One background fdatasync (interval mode), reported through `events.onSync`. */
  private async backgroundSync(): Promise<void> {
    const before = this.log.syncStats();
    if (before.unsyncedBytes === 0) return;
    const startedAtMs = this.settings.clock.nowMs();
    await this.log.sync();
    const after = this.log.syncStats();
    emitEvent(this.settings.events, this.settings.logger, 'onSync', {
      records: before.unsyncedRecords - after.unsyncedRecords,
      bytes: before.unsyncedBytes - after.unsyncedBytes,
      durationMs: this.settings.clock.nowMs() - startedAtMs,
    });
  }

  private notOpenError(): OutboxError {
    return this.status === 'open'
      ? new OutboxError('failed', 'outbox failed')
      : new OutboxError('closed', 'outbox is closed');
  }
}

function validSyncMode(sync: OutboxSyncMode): OutboxSyncMode {
  if (sync.mode === 'per-batch') return sync;
  if (sync.mode === 'interval' && Number.isFinite(sync.intervalMs) && sync.intervalMs > 0) return sync;
  throw new RangeError(`invalid outbox sync mode ${JSON.stringify(sync)}: interval needs intervalMs > 0`);
}

/** A record larger than this could be appended but would read back as corruption (cut or skipped). */
function validMaxRecordBytes(maxRecordBytes: number): number {
  if (
    Number.isSafeInteger(maxRecordBytes) &&
    maxRecordBytes > 0 &&
    maxRecordBytes <= MAX_RECORD_CONTENT_BYTES
  )
    return maxRecordBytes;
  throw new RangeError(
    `invalid outbox maxRecordBytes ${maxRecordBytes}: 1 … ${MAX_RECORD_CONTENT_BYTES} (a frame's body is at most 64 MiB)`,
  );
}

const LONE_SURROGATE = /[\uD800-\uDFFF]/;

/**
 * A key or topic as it reads back from its frame: UTF-8 encoding turns lone surrogates into U+FFFD. A text
 * whose UTF-8 length (`utf8Bytes`) equals its length is ASCII, with nothing to replace: no regex per append.
 */
function asStored(text: string, utf8Bytes: number): string {
  if (utf8Bytes === text.length) return text;
  return LONE_SURROGATE.test(text) ? Buffer.from(text, 'utf8').toString('utf8') : text;
}
