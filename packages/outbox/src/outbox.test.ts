import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeFrame } from './frame-codec.js';
import { ManualClock } from './manual-clock.js';
import { Outbox, type OutboxOptions } from './outbox.js';
import { OutboxError, OutboxFullError } from './outbox-error.js';
import { createNodeOutboxFs, type OutboxFile, type OutboxFs } from './outbox-fs.js';

/** The real file system, counting fdatasyncs per file and failing the next write or fsync on demand. */
function createCountingFs() {
  const real = createNodeOutboxFs();
  const datasyncs = new Map<string, number>();
  const failNext: { write?: Error; datasync?: Error } = {};
  const fs: OutboxFs = {
    ...real,
    open: async (path, flags) => {
      const file = await real.open(path, flags);
      const wrapped: OutboxFile = {
        read: (...args) => file.read(...args),
        truncate: (length) => file.truncate(length),
        stat: () => file.stat(),
        close: () => file.close(),
        write: async (buffer, offset, length, position) => {
          const error = failNext.write;
          failNext.write = undefined;
          if (error === undefined) return file.write(buffer, offset, length, position);
          await file.write(buffer, offset, Math.floor(length / 2), position); // a partial write, then the error
          throw error;
        },
        datasync: async () => {
          const error = failNext.datasync;
          failNext.datasync = undefined;
          if (error !== undefined) throw error;
          datasyncs.set(basename(path), (datasyncs.get(basename(path)) ?? 0) + 1);
          await file.datasync();
        },
      };
      return wrapped;
    },
  };
  const segmentSyncs = (): number =>
    [...datasyncs].filter(([name]) => name.startsWith('segment-')).reduce((sum, [, count]) => sum + count, 0);
  return { fs, failNext, segmentSyncs };
}

const payloadFor = (seq: number): Uint8Array => Buffer.from(`usage record ${seq}`);

describe('Outbox', () => {
  let directory: string;
  let clock: ManualClock;
  const opened: Outbox[] = [];

  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'outbox-test-'));
    clock = new ManualClock();
  });
  afterEach(async () => {
    for (const outbox of opened.splice(0)) await outbox.close();
    await rm(directory, { recursive: true, force: true });
  });

  async function open(options: Partial<OutboxOptions> = {}): Promise<Outbox> {
    const outbox = await Outbox.open({ directory, clock, ...options });
    opened.push(outbox);
    return outbox;
  }

  /** Starts appends concurrently, lets the batch delay pass, and returns their seqs. */
  async function appendMany(outbox: Outbox, count: number, start = 1): Promise<number[]> {
    const pending = Array.from({ length: count }, (_, i) =>
      outbox.append({ key: `req-${start + i}`, topic: 'usage', payload: payloadFor(start + i) }),
    );
    clock.advance(10);
    return Promise.all(pending);
  }

  it('round-trips append, read and ack, and keeps the cursor across a reopen', async () => {
    const outbox = await open();
    expect(await appendMany(outbox, 3)).toEqual([1, 2, 3]);
    const records = await outbox.read(0, { maxRecords: 10, maxBytes: 1 << 20 });
    expect(
      records.map((record) => [record.seq, record.key, record.topic, Buffer.from(record.payload).toString()]),
    ).toEqual([
      [1, 'req-1', 'usage', 'usage record 1'],
      [2, 'req-2', 'usage', 'usage record 2'],
      [3, 'req-3', 'usage', 'usage record 3'],
    ]);
    expect(records[0]!.appendedAtMs).toBe(clock.nowMs() - 10);
    expect(outbox.backlog()).toMatchObject({ records: 3, oldestAppendedAtMs: clock.nowMs() - 10 });
    await outbox.ack(2);
    expect(outbox.backlog().records).toBe(1);
    expect(
      (await outbox.read(outbox.ackedSeq, { maxRecords: 10, maxBytes: 1 << 20 })).map((record) => record.seq),
    ).toEqual([3]);
    await outbox.close();

    const reopened = await open();
    expect(reopened.ackedSeq).toBe(2);
    expect(reopened.backlog().records).toBe(1);
    expect(
      (await reopened.read(2, { maxRecords: 10, maxBytes: 1 << 20 })).map((record) => record.seq),
    ).toEqual([3]);
    expect(await appendMany(reopened, 1, 4)).toEqual([4]);
  });

  it('shares one write + fsync among concurrent appends (group commit)', async () => {
    const counting = createCountingFs();
    const outbox = await open({ fs: counting.fs });
    const seqs = await appendMany(outbox, 50);
    expect(new Set(seqs).size).toBe(50);
    expect(counting.segmentSyncs()).toBe(1);
    await appendMany(outbox, 5, 51);
    expect(counting.segmentSyncs()).toBe(2);
  });

  it('reads in limited batches and resumes where the last read ended', async () => {
    const outbox = await open();
    await appendMany(outbox, 25);
    const seen: number[] = [];
    let after = 0;
    for (;;) {
      const batch = await outbox.read(after, { maxRecords: 7, maxBytes: 1 << 20 });
      if (batch.length === 0) break;
      expect(batch.length).toBeLessThanOrEqual(7);
      seen.push(...batch.map((record) => record.seq));
      after = batch[batch.length - 1]!.seq;
    }
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    const oneByBytes = await outbox.read(0, { maxRecords: 100, maxBytes: 1 });
    expect(oneByBytes.map((record) => record.seq)).toEqual([1]); // a record larger than maxBytes still goes alone
  });

  it('reads a record that a disk read chunk ends inside whole, whatever frame-like bytes its payload holds', async () => {
    const corruption: unknown[] = [];
    const outbox = await open({
      memoryTail: { maxRecords: 0 },
      events: { onCorruption: (report) => corruption.push(report) },
    });
    // A payload is opaque: it may hold the bytes of a whole valid frame (e.g. a client-chosen string).
    const planted = encodeFrame({
      seq: 2 ** 40,
      appendedAtMs: 0,
      key: 'forged',
      topic: 'usage',
      payload: Buffer.from('forged payload'),
    });
    const pending = [
      outbox.append({ key: 'req-1', topic: 'usage', payload: Buffer.alloc(69_000, 1) }),
      outbox.append({
        key: 'req-2',
        topic: 'usage',
        payload: Buffer.concat([Buffer.from('model '), planted, Buffer.alloc(5_000, 2)]),
      }),
    ];
    clock.advance(10);
    await Promise.all(pending);
    // With maxBytes 70 000 the first chunk read from the segment ends inside req-2, after the planted bytes.
    const seen: [number, string][] = [];
    let after = 0;
    for (let reads = 0; reads < 5; reads += 1) {
      const batch = await outbox.read(after, { maxRecords: 10, maxBytes: 70_000 });
      if (batch.length === 0) break;
      seen.push(...batch.map((record): [number, string] => [record.seq, record.key]));
      after = batch[batch.length - 1]!.seq;
    }
    expect(seen).toEqual([
      [1, 'req-1'],
      [2, 'req-2'],
    ]);
    expect(corruption).toEqual([]);
  });

  it('rotates segments by size and deletes sealed segments once acked', async () => {
    const outbox = await open({ segmentMaxBytes: 200 });
    for (let i = 0; i < 10; i += 1) await appendMany(outbox, 3, i * 3 + 1);
    const segments = async (): Promise<string[]> =>
      (await readdir(directory)).filter((name) => name.startsWith('segment-')).sort();
    expect((await segments()).length).toBeGreaterThan(3);
    const before = outbox.usedBytes;
    await outbox.ack(15);
    const remaining = await segments();
    expect(outbox.usedBytes).toBeLessThan(before);
    const firstSeqs = remaining.map((name) => Number(/\d+/.exec(name)![0]));
    expect(firstSeqs[1]! - 1).toBeGreaterThan(15); // every sealed segment at or below the cursor is gone
    await outbox.ack(30);
    expect(await segments()).toHaveLength(1); // the newest segment stays: appends continue in it
    expect(await appendMany(outbox, 1, 31)).toEqual([31]);
  });

  it('fails appends with OutboxFullError at maxBytes, writing nothing, and accepts again once space is acked away', async () => {
    const outbox = await open({ maxBytes: 400, segmentMaxBytes: 100 });
    await appendMany(outbox, 6);
    const used = outbox.usedBytes;
    const rejected = outbox.append({ key: 'req-x', topic: 'usage', payload: new Uint8Array(200) });
    await expect(rejected).rejects.toBeInstanceOf(OutboxFullError);
    await expect(rejected).rejects.toMatchObject({ code: 'full', maxBytes: 400, usedBytes: used });
    expect(outbox.usedBytes).toBe(used);
    await outbox.ack(6);
    await expect(appendMany(outbox, 1, 7)).resolves.toEqual([7]);
  });

  it('keeps accepting while everything is acked, even with maxBytes below the default segment size', async () => {
    // The newest segment is never deleted: were it allowed to grow to maxBytes, acking could free nothing.
    const outbox = await open({ maxBytes: 2000 });
    for (let seq = 1; seq <= 150; seq += 1) {
      await expect(appendMany(outbox, 1, seq)).resolves.toEqual([seq]); // 150 × 45 B: over 3 × maxBytes
      await outbox.ack(seq);
    }
    expect(outbox.usedBytes).toBeLessThanOrEqual(2000);
  });

  it('frees exactly the deleted segments’ bytes, also when appends commit while an ack deletes', async () => {
    const real = createNodeOutboxFs();
    let releaseUnlink: (() => void) | undefined;
    const unlinkStarted: (() => void)[] = [];
    const fs: OutboxFs = {
      ...real,
      unlink: async (path) => {
        await new Promise<void>((resolve) => {
          releaseUnlink = resolve;
          for (const started of unlinkStarted.splice(0)) started();
        });
        await real.unlink(path);
      },
    };
    const outbox = await open({ fs, segmentMaxBytes: 100 });
    for (let seq = 1; seq <= 4; seq += 1) await appendMany(outbox, 1, seq); // 1–3 sealed, 4 in the newest
    const deleting = new Promise<void>((resolve) => unlinkStarted.push(resolve));
    const acked = outbox.ack(3);
    await deleting;
    await appendMany(outbox, 1, 5); // commits while the sealed segment is being deleted
    releaseUnlink!();
    await acked;
    const onDisk = await Promise.all(
      (await readdir(directory))
        .filter((name) => name.startsWith('segment-'))
        .map(async (name) => (await stat(join(directory, name))).size),
    );
    expect(outbox.usedBytes).toBe(onDisk.reduce((sum, size) => sum + size, 0));
  });

  it('frees delivered segments when the disk is too full to write the cursor, so the ack then succeeds', async () => {
    // A full volume: creating the cursor's temp file fails until something is deleted. Were deleting to wait
    // for the cursor, nothing would ever free space: every ack, and every append, would fail for good.
    const real = createNodeOutboxFs();
    let full = false;
    const fs: OutboxFs = {
      ...real,
      open: (path, flags) =>
        full && flags === 'w'
          ? Promise.reject(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }))
          : real.open(path, flags),
      unlink: async (path) => {
        await real.unlink(path);
        full = false;
      },
    };
    const outbox = await open({ fs, segmentMaxBytes: 100 });
    for (let seq = 1; seq <= 4; seq += 1) await appendMany(outbox, 1, seq); // 1–3 sealed, 4 in the newest
    full = true;
    await outbox.ack(3);
    expect(outbox.ackedSeq).toBe(3);
    expect((await readdir(directory)).filter((name) => name.startsWith('segment-'))).toHaveLength(1);
    await outbox.close();
    const reopened = await open();
    expect(reopened.ackedSeq).toBe(3);
    expect(
      (await reopened.read(reopened.ackedSeq, { maxRecords: 10, maxBytes: 1 << 20 })).map(
        (record) => record.seq,
      ),
    ).toEqual([4]);
  });

  it('rejects oversized records as invalid_record', async () => {
    const outbox = await open({ maxRecordBytes: 100 });
    await expect(
      outbox.append({ key: 'k', topic: 'usage', payload: new Uint8Array(200) }),
    ).rejects.toMatchObject({ code: 'invalid_record' });
  });

  it('refuses a maxRecordBytes whose records could not be read back', async () => {
    // Frames with a body over 64 MiB decode as corrupt: such a record would be accepted, then cut on the
    // next open (as a torn tail, with every record after it) or skipped as corruption.
    await expect(open({ maxRecordBytes: 64 * 1024 * 1024 })).rejects.toBeInstanceOf(RangeError);
    await expect(open({ maxRecordBytes: 64 * 1024 * 1024 - 20 })).resolves.toBeInstanceOf(Outbox);
  });

  it('cuts a failed write back and stays usable (write_failed)', async () => {
    const counting = createCountingFs();
    const outbox = await open({ fs: counting.fs });
    await appendMany(outbox, 2);
    counting.failNext.write = Object.assign(new Error('ENOSPC: no space left'), { code: 'ENOSPC' });
    await expect(appendMany(outbox, 2, 3)).rejects.toMatchObject({ code: 'write_failed' });
    expect(outbox.state()).toBe('open');
    expect(await appendMany(outbox, 1, 5)).toEqual([5]);
    await outbox.close();
    const reopened = await open();
    expect(
      (await reopened.read(0, { maxRecords: 10, maxBytes: 1 << 20 })).map((record) => record.seq),
    ).toEqual([1, 2, 5]);
  });

  it('turns failed after an fsync error and refuses appends until reopened', async () => {
    const counting = createCountingFs();
    const outbox = await open({ fs: counting.fs });
    await appendMany(outbox, 1);
    counting.failNext.datasync = new Error('EIO');
    await expect(appendMany(outbox, 1, 2)).rejects.toMatchObject({ code: 'failed' });
    expect(outbox.state()).toBe('failed');
    await expect(outbox.append({ key: 'k', topic: 'usage', payload: payloadFor(3) })).rejects.toBeInstanceOf(
      OutboxError,
    );
    await outbox.close();
    const reopened = await open();
    expect(reopened.state()).toBe('open');
    expect((await reopened.read(0, { maxRecords: 10, maxBytes: 1 << 20 }))[0]?.seq).toBe(1);
  });

  it('close commits appends already made and rejects later ones', async () => {
    const outbox = await open({ maxBatchDelayMs: 60_000 });
    const early = outbox.append({ key: 'k', topic: 'usage', payload: payloadFor(1) });
    await outbox.close();
    await expect(early).resolves.toBe(1);
    await expect(outbox.append({ key: 'k', topic: 'usage', payload: payloadFor(2) })).rejects.toMatchObject({
      code: 'closed',
    });
    expect(outbox.state()).toBe('closed');
  });

  it('creates a missing nested directory', async () => {
    const outbox = await open({ directory: join(directory, 'a', 'b') });
    expect(await appendMany(outbox, 1)).toEqual([1]);
    expect(await readdir(join(directory, 'a', 'b'))).toEqual([expect.stringMatching(/^segment-0+1\.log$/)]);
  });

  it('with fsync off, never calls fdatasync', async () => {
    const counting = createCountingFs();
    const outbox = await open({ fs: counting.fs, fsync: false });
    await appendMany(outbox, 10);
    expect(counting.segmentSyncs()).toBe(0);
    expect((await stat(join(directory, (await readdir(directory))[0]!))).size).toBeGreaterThan(0);
  });
});
