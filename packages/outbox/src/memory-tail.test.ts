import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from './manual-clock.js';
import { Outbox, type OutboxOptions } from './outbox.js';
import { createNodeOutboxFs, type OutboxFs } from './outbox-fs.js';
import type { OutboxAppend, OutboxRecord } from './outbox-record.js';

const ALL = { maxRecords: 100_000, maxBytes: 64 << 20 };

/** The real file system, counting opens of segment files for reading. */
function createReadCountingFs() {
  const real = createNodeOutboxFs();
  const counts = { segmentReads: 0 };
  const fs: OutboxFs = {
    ...real,
    open: (path, flags) => {
      if (flags === 'r' && basename(path).startsWith('segment-')) counts.segmentReads += 1;
      return real.open(path, flags);
    },
  };
  return { fs, counts };
}

describe('Outbox memory tail', () => {
  let directory: string;
  let clock: ManualClock;
  const opened: Outbox[] = [];

  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'outbox-tail-'));
    clock = new ManualClock();
  });
  afterEach(async () => {
    for (const outbox of opened.splice(0)) await outbox.close();
    await rm(directory, { recursive: true, force: true });
  });

  async function open(options: Partial<OutboxOptions> = {}): Promise<Outbox> {
    const outbox = await Outbox.open({
      directory,
      clock,
      sync: { mode: 'interval', intervalMs: 60_000 },
      ...options,
    });
    opened.push(outbox);
    return outbox;
  }

  async function appendAll(outbox: Outbox, records: OutboxAppend[]): Promise<number[]> {
    const pending = records.map((record) => outbox.append(record));
    clock.advance(0);
    return Promise.all(pending);
  }

  const record = (seq: number): OutboxAppend => ({
    key: `req-${seq}`,
    topic: 'usage',
    payload: Buffer.from(`usage record ${seq}`),
  });
  const range = (from: number, to: number): number[] =>
    Array.from({ length: to - from + 1 }, (_, i) => from + i);

  it('serves a shipper that keeps up without reading the segment files', async () => {
    const counting = createReadCountingFs();
    const outbox = await open({ fs: counting.fs });
    let after = 0;
    for (let round = 0; round < 5; round += 1) {
      await appendAll(outbox, range(round * 10 + 1, round * 10 + 10).map(record));
      const batch = await outbox.read(after, { maxRecords: 500, maxBytes: 1 << 20 });
      expect(batch.map((entry) => entry.seq)).toEqual(range(round * 10 + 1, round * 10 + 10));
      after = batch[batch.length - 1]!.seq;
      await outbox.ack(after);
    }
    expect(counting.counts.segmentReads).toBe(0);
  });

  it('falls back to the segment files for what it evicted, and after a reopen', async () => {
    const counting = createReadCountingFs();
    const outbox = await open({ fs: counting.fs, memoryTail: { maxRecords: 4 } });
    await appendAll(outbox, range(1, 10).map(record));

    expect((await outbox.read(6, ALL)).map((entry) => entry.seq)).toEqual([7, 8, 9, 10]);
    expect(counting.counts.segmentReads).toBe(0);
    const fromDisk = await outbox.read(0, ALL); // 1…6 were evicted
    expect(fromDisk.map((entry) => entry.seq)).toEqual(range(1, 10));
    expect(counting.counts.segmentReads).toBeGreaterThan(0);
    expect(await outbox.read(5, { maxRecords: 3, maxBytes: 1 << 20 })).toStrictEqual(fromDisk.slice(5, 8));
    await outbox.close();

    const reopened = await open({ fs: counting.fs });
    const before = counting.counts.segmentReads;
    expect(await reopened.read(0, ALL)).toStrictEqual(fromDisk);
    expect(counting.counts.segmentReads).toBeGreaterThan(before);
    await appendAll(reopened, [record(11)]);
    const afterReopen = counting.counts.segmentReads;
    expect((await reopened.read(10, ALL)).map((entry) => entry.seq)).toEqual([11]); // new records: memory
    expect(counting.counts.segmentReads).toBe(afterReopen);
  });

  it('evicts by bytes too, and hands out copies a transport may change', async () => {
    const outbox = await open({ memoryTail: { maxBytes: 200 } });
    await appendAll(outbox, range(1, 8).map(record)); // ≈ 50-byte frames: the tail keeps the last 4
    const first = await outbox.read(4, ALL);
    first[0]!.payload.fill(0);
    expect(await outbox.read(4, ALL)).toStrictEqual(await outbox.read(0, ALL).then((all) => all.slice(4)));
    expect(Buffer.from((await outbox.read(4, ALL))[0]!.payload).toString()).toBe('usage record 5');
  });

  it('property: reads from memory equal reads of the same records from disk', async () => {
    const codeUnits = fc.string({
      unit: fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit)),
      maxLength: 12,
    }); // lone surrogates included: they read back from disk as U+FFFD
    const appendArbitrary = fc.record({
      key: codeUnits,
      topic: codeUnits,
      payload: fc.uint8Array({ maxLength: 300 }),
    });
    const scenario = fc.record({
      batches: fc.array(fc.array(appendArbitrary, { minLength: 1, maxLength: 8 }), {
        minLength: 1,
        maxLength: 6,
      }),
      clockSteps: fc.array(fc.double({ min: 0, max: 5, noNaN: true }), { minLength: 6, maxLength: 6 }),
      reads: fc.array(
        fc.record({
          after: fc.nat({ max: 50 }),
          maxRecords: fc.integer({ min: 1, max: 20 }),
          maxBytes: fc.integer({ min: 1, max: 2000 }),
        }),
        { minLength: 1, maxLength: 8 },
      ),
      ackThrough: fc.nat({ max: 50 }),
    });
    await fc.assert(
      fc.asyncProperty(scenario, async ({ batches, clockSteps, reads, ackThrough }) => {
        const dir = await mkdtemp(join(tmpdir(), 'outbox-tail-prop-'));
        try {
          const memory = await Outbox.open({
            directory: dir,
            clock,
            sync: { mode: 'interval', intervalMs: 60_000 },
          });
          const fromMemory: OutboxRecord[][] = [];
          try {
            for (const [index, batch] of batches.entries()) {
              clock.advance(clockSteps[index]!); // fractional times: stored truncated
              await appendAll(memory, batch);
            }
            const acked = Math.min(ackThrough, memory.lastCommittedSeq);
            await memory.ack(acked);
            for (const read of reads) fromMemory.push(await memory.read(Math.max(read.after, acked), read));
          } finally {
            await memory.close();
          }
          const disk = await Outbox.open({ directory: dir, clock, memoryTail: { maxRecords: 0 } });
          try {
            for (const [index, read] of reads.entries()) {
              const expected = await disk.read(Math.max(read.after, disk.ackedSeq), read);
              expect(fromMemory[index]).toStrictEqual(expected);
            }
          } finally {
            await disk.close();
          }
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 60 },
    );
  });
});
