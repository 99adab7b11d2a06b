import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from './manual-clock.js';
import { Outbox, type OutboxOptions } from './outbox.js';
import type { OutboxLogger, SyncReport } from './outbox-events.js';
import { createNodeOutboxFs, type OutboxFile, type OutboxFs } from './outbox-fs.js';

/** The real file system, logging every segment fdatasync (file name) and able to fail the next one. */
function createSyncLoggingFs() {
  const real = createNodeOutboxFs();
  const syncs: string[] = [];
  const failNext: { datasync?: Error } = {};
  const fs: OutboxFs = {
    ...real,
    open: async (path, flags) => {
      const file = await real.open(path, flags);
      const wrapped: OutboxFile = {
        read: (...args) => file.read(...args),
        write: (...args) => file.write(...args),
        truncate: (length) => file.truncate(length),
        stat: () => file.stat(),
        close: () => file.close(),
        datasync: async () => {
          if (!basename(path).startsWith('segment-')) return file.datasync();
          const error = failNext.datasync;
          failNext.datasync = undefined;
          if (error !== undefined) throw error;
          await file.datasync();
          syncs.push(basename(path));
        },
      };
      return wrapped;
    },
  };
  return { fs, syncs, failNext };
}

/** Lets real I/O callbacks run until `done()` holds (bounded by a number of loop turns, not by time). */
async function until(done: () => boolean): Promise<void> {
  for (let turn = 0; turn < 100_000 && !done(); turn += 1) await new Promise((r) => setImmediate(r));
  expect(done()).toBe(true);
}

const INTERVAL_MS = 50;

describe('Outbox interval durability mode', () => {
  let directory: string;
  let clock: ManualClock;
  let syncReports: SyncReport[];
  let errors: string[];
  const opened: Outbox[] = [];
  const logger: OutboxLogger = {
    info: () => undefined,
    warn: () => undefined,
    error: (_object, message) => errors.push(message),
  };

  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'outbox-sync-'));
    clock = new ManualClock();
    syncReports = [];
    errors = [];
  });
  afterEach(async () => {
    for (const outbox of opened.splice(0)) await outbox.close().catch(() => undefined);
    await rm(directory, { recursive: true, force: true });
  });

  async function open(options: Partial<OutboxOptions> = {}): Promise<Outbox> {
    const outbox = await Outbox.open({
      directory,
      clock,
      logger,
      sync: { mode: 'interval', intervalMs: INTERVAL_MS },
      events: { onSync: (report) => syncReports.push(report) },
      ...options,
    });
    opened.push(outbox);
    return outbox;
  }

  /** Appends `count` records in one tick, lets the (zero) group-commit delay pass, and waits for them. */
  async function appendMany(outbox: Outbox, count: number, start = 1): Promise<number[]> {
    const pending = Array.from({ length: count }, (_, i) =>
      outbox.append({ key: `req-${start + i}`, topic: 'usage', payload: Buffer.from(`record ${start + i}`) }),
    );
    clock.advance(0);
    return Promise.all(pending);
  }

  it('resolves an append once written, before any fdatasync, and syncs it in the background', async () => {
    const logging = createSyncLoggingFs();
    let commits = 0;
    const outbox = await open({ fs: logging.fs, events: { onCommit: () => (commits += 1) } });
    expect(await appendMany(outbox, 20)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(commits).toBe(1); // appends of one tick share one write, with no group-commit delay
    expect(logging.syncs).toEqual([]);
    expect(outbox.syncStats()).toMatchObject({ mode: 'interval', unsyncedRecords: 20 });
    expect(outbox.syncStats().unsyncedBytes).toBe(
      (await stat(join(directory, (await readdir(directory))[0]!))).size,
    );
    // Written means readable (and in the kernel, which is what survives kill -9).
    expect((await outbox.read(0, { maxRecords: 100, maxBytes: 1 << 20 })).length).toBe(20);

    expect(clock.pendingDelaysMs()).toEqual([0]); // the first sync after an idle period starts at once
    clock.advance(0);
    await until(() => logging.syncs.length === 1);
    expect(outbox.syncStats()).toEqual({
      mode: 'interval',
      unsyncedRecords: 0,
      unsyncedBytes: 0,
      lastSyncAtMs: clock.nowMs(),
    });
  });

  it('syncs at most once per interval, and within the interval of a write', async () => {
    const logging = createSyncLoggingFs();
    const outbox = await open({ fs: logging.fs });
    await appendMany(outbox, 1);
    clock.advance(0);
    await until(() => syncReports.length === 1);
    expect(syncReports[0]).toMatchObject({ records: 1 });

    clock.advance(10);
    await appendMany(outbox, 3, 2);
    expect(clock.pendingDelaysMs()).toEqual([INTERVAL_MS - 10]);
    clock.advance(INTERVAL_MS - 11);
    await appendMany(outbox, 2, 5);
    expect(logging.syncs).toHaveLength(1);
    expect(clock.pendingDelaysMs()).toEqual([1]); // one sync pending for all of them
    clock.advance(1);
    await until(() => syncReports.length === 2);
    expect(syncReports[1]).toMatchObject({ records: 5 });
    expect(logging.syncs).toHaveLength(2);
    expect(clock.pendingDelaysMs()).toEqual([]); // nothing unsynced: nothing scheduled
  });

  it('turns failed when a background fdatasync fails: appends are rejected, the state is visible', async () => {
    const logging = createSyncLoggingFs();
    const outbox = await open({ fs: logging.fs });
    await appendMany(outbox, 2);
    logging.failNext.datasync = Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
    clock.advance(0);
    await until(() => outbox.state() === 'failed');
    expect(errors).toEqual([expect.stringContaining('fdatasync failed')]);
    await expect(appendMany(outbox, 1, 3)).rejects.toMatchObject({ code: 'failed' });
    expect(outbox.syncStats().unsyncedRecords).toBe(2);
    expect(clock.pendingDelaysMs()).toEqual([]); // no more syncs on a failed outbox
  });

  it('close fdatasyncs what is unsynced', async () => {
    const logging = createSyncLoggingFs();
    const outbox = await open({ fs: logging.fs });
    await appendMany(outbox, 1);
    clock.advance(0);
    await until(() => logging.syncs.length === 1);
    await appendMany(outbox, 4, 2); // its sync is due in INTERVAL_MS; close does not wait for it
    expect(clock.pendingDelaysMs()).toEqual([INTERVAL_MS]);
    await outbox.close();
    expect(logging.syncs).toHaveLength(2);
    expect(outbox.syncStats().unsyncedRecords).toBe(0);
    expect(clock.pendingDelaysMs()).toEqual([]);
  });

  it('close rejects when its last fdatasync fails', async () => {
    const logging = createSyncLoggingFs();
    const outbox = await open({ fs: logging.fs, sync: { mode: 'interval', intervalMs: 60_000 } });
    await appendMany(outbox, 1);
    logging.failNext.datasync = new Error('EIO');
    await expect(outbox.close()).rejects.toMatchObject({ code: 'failed' });
    expect(outbox.state()).toBe('closed');
  });

  it('syncs a segment before sealing it, and the newest recovered segment at open', async () => {
    const logging = createSyncLoggingFs();
    const outbox = await open({
      fs: logging.fs,
      segmentMaxBytes: 150,
      sync: { mode: 'interval', intervalMs: 60_000 },
    });
    for (let i = 0; i < 8; i += 1) await appendMany(outbox, 2, i * 2 + 1); // no timer ever fires
    const segments = (await readdir(directory)).filter((name) => name.startsWith('segment-')).sort();
    expect(segments.length).toBeGreaterThan(2);
    // Every sealed segment was synced before the next was created (the first one also by the timer that
    // fired at once after the first write); after that, only rotation synced.
    expect(logging.syncs).toEqual([segments[0], ...segments.slice(0, -1)]);
    expect(outbox.syncStats().unsyncedRecords).toBeGreaterThan(0);

    // As if the process had been killed: reopen without closing. The reopened outbox syncs the newest segment.
    const second = createSyncLoggingFs();
    const reopened = await open({ fs: second.fs });
    expect(second.syncs).toEqual([segments[segments.length - 1]]);
    expect(reopened.lastCommittedSeq).toBe(16);
    expect(reopened.syncStats().unsyncedRecords).toBe(0);
  });

  it('per-batch mode fdatasyncs before an append resolves, as before', async () => {
    const logging = createSyncLoggingFs();
    const outbox = await open({ fs: logging.fs, sync: { mode: 'per-batch' } });
    const appended = outbox.append({ key: 'k', topic: 'usage', payload: Buffer.from('x') });
    expect(clock.pendingDelaysMs()).toEqual([2]); // the default group-commit delay of this mode
    clock.advance(2);
    await appended;
    expect(logging.syncs).toHaveLength(1);
    expect(outbox.syncStats()).toMatchObject({ mode: 'per-batch', unsyncedRecords: 0, unsyncedBytes: 0 });
  });

  it('rejects an interval without a positive intervalMs', async () => {
    await expect(open({ sync: { mode: 'interval', intervalMs: 0 } })).rejects.toThrow(RangeError);
  });

  describe('synchronous writes (maxSyncWriteBytes)', () => {
    /** The real fs, with writeSync counted and able to fail once after writing half. */
    function createSyncWriteFs() {
      const real = createNodeOutboxFs();
      const calls = { count: 0 };
      const failNext: { error?: Error } = {};
      const fs: OutboxFs = {
        ...real,
        writeSync: (fd, buffer, offset, length, position) => {
          calls.count += 1;
          const error = failNext.error;
          failNext.error = undefined;
          if (error === undefined) return real.writeSync!(fd, buffer, offset, length, position);
          real.writeSync!(fd, buffer, offset, Math.floor(length / 2), position);
          throw error;
        },
      };
      return { fs, calls, failNext };
    }

    async function readAllFromDisk(): Promise<string[]> {
      const disk = await Outbox.open({ directory, clock, memoryTail: { maxRecords: 0 } });
      try {
        return (await disk.read(0, { maxRecords: 100, maxBytes: 1 << 20 })).map(
          (record) => `${record.seq} ${record.key} ${Buffer.from(record.payload).toString()}`,
        );
      } finally {
        await disk.close();
      }
    }

    it('writes a batch up to the limit on the calling thread, a larger one through the threadpool', async () => {
      const syncWrites = createSyncWriteFs();
      const outbox = await open({ fs: syncWrites.fs, maxSyncWriteBytes: 200 });
      await appendMany(outbox, 2); // about 100 bytes
      expect(syncWrites.calls.count).toBe(1);
      await appendMany(outbox, 6, 3); // about 300 bytes
      expect(syncWrites.calls.count).toBe(1);
      await outbox.close();
      expect(await readAllFromDisk()).toEqual(
        Array.from({ length: 8 }, (_, i) => `${i + 1} req-${i + 1} record ${i + 1}`),
      );
    });

    it('cuts a failed synchronous write back (write_failed) and stays usable', async () => {
      const syncWrites = createSyncWriteFs();
      const outbox = await open({ fs: syncWrites.fs, maxSyncWriteBytes: 64 * 1024 });
      await appendMany(outbox, 2);
      syncWrites.failNext.error = Object.assign(new Error('ENOSPC: no space left'), { code: 'ENOSPC' });
      await expect(appendMany(outbox, 2, 3)).rejects.toMatchObject({ code: 'write_failed' });
      expect(outbox.state()).toBe('open');
      expect(await appendMany(outbox, 1, 5)).toEqual([5]);
      expect((await outbox.read(0, { maxRecords: 10, maxBytes: 1 << 20 })).map((r) => r.seq)).toEqual([
        1, 2, 5,
      ]);
      await outbox.close();
      expect(await readAllFromDisk()).toEqual(['1 req-1 record 1', '2 req-2 record 2', '5 req-5 record 5']);
    });
  });
});
