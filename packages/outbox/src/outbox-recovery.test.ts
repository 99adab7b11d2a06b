import { appendFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { crc32c } from './crc32c.js';
import { encodeFrame } from './frame-codec.js';
import { ManualClock } from './manual-clock.js';
import { Outbox, type OutboxOptions } from './outbox.js';
import type { CorruptionReport, TornTailReport } from './outbox-events.js';

const ALL = { maxRecords: 10_000, maxBytes: 64 << 20 };

describe('Outbox recovery', () => {
  let directory: string;
  let clock: ManualClock;
  let corruptions: CorruptionReport[];
  let tornTails: TornTailReport[];
  const opened: Outbox[] = [];

  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'outbox-recovery-'));
    clock = new ManualClock();
    corruptions = [];
    tornTails = [];
  });
  afterEach(async () => {
    for (const outbox of opened.splice(0)) await outbox.close();
    await rm(directory, { recursive: true, force: true });
  });

  async function open(options: Partial<OutboxOptions> = {}): Promise<Outbox> {
    const events = {
      onCorruption: (report: CorruptionReport) => corruptions.push(report),
      onTornTail: (report: TornTailReport) => tornTails.push(report),
    };
    const outbox = await Outbox.open({ directory, clock, events, ...options });
    opened.push(outbox);
    return outbox;
  }

  /** Appends one record per batch (so each lands after the previous commit) and closes. */
  async function writeAndClose(count: number, options: Partial<OutboxOptions> = {}): Promise<void> {
    const outbox = await open(options);
    for (let seq = 1; seq <= count; seq += 1) {
      const appended = outbox.append({
        key: `req-${seq}`,
        topic: 'usage',
        payload: Buffer.from(`record ${seq}`),
      });
      clock.advance(5);
      await appended;
    }
    await outbox.close();
  }

  async function segmentFiles(): Promise<string[]> {
    return (await readdir(directory)).filter((name) => name.startsWith('segment-')).sort();
  }

  async function seqs(outbox: Outbox, after = 0): Promise<number[]> {
    return (await outbox.read(after, ALL)).map((record) => record.seq);
  }

  it('truncates a torn frame at the tail of the newest segment and appends after it', async () => {
    await writeAndClose(5);
    const [segment] = await segmentFiles();
    const path = join(directory, segment!);
    const goodSize = (await stat(path)).size;
    const next = encodeFrame({
      seq: 6,
      appendedAtMs: 0,
      key: 'req-6',
      topic: 'usage',
      payload: Buffer.alloc(100, 1),
    });
    await appendFile(path, next.subarray(0, 40)); // a crash mid-write
    const outbox = await open();
    expect(tornTails).toEqual([
      { file: segment, offset: goodSize, truncatedBytes: 40, reason: expect.any(String) as string },
    ]);
    expect(corruptions).toEqual([]);
    expect((await stat(path)).size).toBe(goodSize);
    expect(await seqs(outbox)).toEqual([1, 2, 3, 4, 5]);
    const appended = outbox.append({ key: 'req-6', topic: 'usage', payload: Buffer.from('again') });
    clock.advance(5);
    expect(await appended).toBe(6);
    expect(await seqs(outbox)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('truncates a zero-filled tail (a file extended but never written)', async () => {
    await writeAndClose(3);
    const [segment] = await segmentFiles();
    await appendFile(join(directory, segment!), Buffer.alloc(4096));
    const outbox = await open();
    expect(tornTails).toHaveLength(1);
    expect(await seqs(outbox)).toEqual([1, 2, 3]);
  });

  it('reports and skips a corrupt frame in a sealed segment, once, and keeps everything else', async () => {
    await writeAndClose(12, { segmentMaxBytes: 150 });
    const files = await segmentFiles();
    expect(files.length).toBeGreaterThan(2);
    const path = join(directory, files[0]!);
    const bytes = await readFile(path);
    const firstFrameBytes = bytes.readUInt32BE(0) + 8;
    bytes[firstFrameBytes + 20] = bytes[firstFrameBytes + 20]! ^ 0x55; // inside the second record's body
    await writeFile(path, bytes);

    const outbox = await open();
    expect(corruptions).toEqual([
      {
        file: files[0],
        offset: firstFrameBytes,
        skippedBytes: expect.any(Number) as number,
        reason: 'checksum mismatch',
      },
    ]);
    expect(tornTails).toEqual([]);
    const survivors = await seqs(outbox);
    expect(survivors).toEqual(Array.from({ length: 12 }, (_, i) => i + 1).filter((seq) => seq !== 2));
    expect(outbox.backlog().records).toBe(11);
    await seqs(outbox); // reading the same bytes again does not report them again
    expect(corruptions).toHaveLength(1);
    expect((await stat(path)).size).toBe(bytes.length); // sealed segments are never cut
  });

  it('cuts the newest segment at its first bad frame, even when valid frames follow it', async () => {
    await writeAndClose(4);
    const [segment] = await segmentFiles();
    const path = join(directory, segment!);
    const bytes = await readFile(path);
    const secondFrame = bytes.readUInt32BE(0) + 8;
    bytes[secondFrame + 12] = bytes[secondFrame + 12]! ^ 0x01; // seq field of record 2
    await writeFile(path, bytes);
    const outbox = await open();
    expect(corruptions).toEqual([]);
    expect(tornTails).toEqual([
      expect.objectContaining({
        file: segment,
        offset: secondFrame,
        truncatedBytes: bytes.length - secondFrame,
      }),
    ]);
    expect((await stat(path)).size).toBe(secondFrame);
    expect(await seqs(outbox)).toEqual([1]);
  });

  // A torn record's payload is client-supplied (a model name, message text) and may hold bytes that are a
  // whole valid frame: recovery must not search the torn tail for frames and accept that one.
  it.each([
    ['cut short (kill -9 mid-write)', 'cut'],
    ['full length but its end never written (power loss)', 'zeroed'],
  ])('never reads a frame forged inside a torn record: %s', async (_name, tear) => {
    await writeAndClose(3);
    const [segment] = await segmentFiles();
    const path = join(directory, segment!);
    const goodSize = (await stat(path)).size;
    const forged = encodeFrame({
      seq: 4,
      appendedAtMs: 0,
      key: 'forged',
      topic: 'usage',
      payload: Buffer.from('not a record'),
    });
    const payload = Buffer.concat([Buffer.from('{"model":"'), forged, Buffer.alloc(200, 0x61)]);
    const torn = encodeFrame({ seq: 4, appendedAtMs: 0, key: 'req-4', topic: 'audit', payload });
    const forgedEnd = torn.length - 200;
    if (tear === 'cut') await appendFile(path, torn.subarray(0, forgedEnd + 10));
    else await appendFile(path, Buffer.concat([torn.subarray(0, forgedEnd), Buffer.alloc(200)]));

    const outbox = await open();
    expect((await outbox.read(0, ALL)).map((record) => record.key)).toEqual(['req-1', 'req-2', 'req-3']);
    expect(tornTails).toEqual([
      expect.objectContaining({
        file: segment,
        offset: goodSize,
        truncatedBytes: expect.any(Number) as number,
      }),
    ]);
    expect(corruptions).toEqual([]);
    expect((await stat(path)).size).toBe(goodSize);
    const appended = outbox.append({ key: 'req-4', topic: 'usage', payload: Buffer.from('again') });
    clock.advance(5);
    expect(await appended).toBe(4);
  });

  it('reports corruption that appears while open when a read meets it, and reads past it', async () => {
    await writeAndClose(6, { segmentMaxBytes: 150 });
    const outbox = await open();
    const [first] = await segmentFiles();
    const path = join(directory, first!);
    const bytes = await readFile(path);
    bytes[bytes.readUInt32BE(0) + 8 + 3] = 0xff; // the length field of the second record
    await writeFile(path, bytes);
    expect(await seqs(outbox)).toEqual([1, 3, 4, 5, 6]);
    expect(corruptions).toEqual([
      expect.objectContaining({ file: first, offset: bytes.readUInt32BE(0) + 8 }),
    ]);
  });

  // A payload may hold the bytes of a whole valid frame (client-chosen text): when the record holding it rots,
  // resynchronising must not take that frame for a record, nor skip the real records after it.
  async function appendWithPlanted(outbox: Outbox, plantedSeq: number): Promise<void> {
    const planted = encodeFrame({
      seq: plantedSeq,
      appendedAtMs: 0,
      key: 'forged',
      topic: 'usage',
      payload: Buffer.from('forged payload'),
    });
    for (let seq = 1; seq <= 8; seq += 1) {
      const payload =
        seq === 2
          ? Buffer.concat([Buffer.from('model '), planted, Buffer.from(' tail')])
          : Buffer.from(`r${seq}`);
      const appended = outbox.append({ key: `req-${seq}`, topic: 'usage', payload });
      clock.advance(5);
      await appended;
    }
  }

  /** Flips a bit in the key of the first segment's second record; returns the file and that record's offset. */
  async function rotSecondRecord(): Promise<{ file: string; offset: number }> {
    const [file] = await segmentFiles();
    const path = join(directory, file!);
    const bytes = await readFile(path);
    const offset = bytes.readUInt32BE(0) + 8;
    bytes[offset + 30] = bytes[offset + 30]! ^ 0x01;
    await writeFile(path, bytes);
    return { file: file!, offset };
  }

  it('never resynchronises a sealed segment on a frame planted in a corrupt record', async () => {
    const writer = await open({ segmentMaxBytes: 250 }); // records 1–5 in the first segment
    await appendWithPlanted(writer, 5);
    await writer.close();
    expect((await segmentFiles()).length).toBeGreaterThan(1);
    const { file, offset } = await rotSecondRecord();
    const outbox = await open();
    const keys = (await outbox.read(0, ALL)).map((record) => record.key);
    expect(keys).toEqual(['req-1', 'req-3', 'req-4', 'req-5', 'req-6', 'req-7', 'req-8']);
    expect(corruptions).toEqual([expect.objectContaining({ file, offset })]);
    expect(outbox.backlog().records).toBe(7);
  });

  it('never reads a frame planted in a record that rots while open, whatever seq it claims', async () => {
    const outbox = await open({ memoryTail: { maxRecords: 0 } });
    await appendWithPlanted(outbox, 2 ** 40);
    const { file, offset } = await rotSecondRecord();
    const records = await outbox.read(0, ALL);
    expect(records.map((record) => record.key)).toEqual([
      'req-1',
      'req-3',
      'req-4',
      'req-5',
      'req-6',
      'req-7',
      'req-8',
    ]);
    expect(corruptions).toEqual([expect.objectContaining({ file, offset })]);
    await outbox.ack(records[records.length - 1]!.seq);
  });

  it('re-delivers everything above the cursor and deletes sealed segments a crash left behind', async () => {
    await writeAndClose(12, { segmentMaxBytes: 150 });
    const files = await segmentFiles();
    const firstSeqOfThird = Number(/\d+/.exec(files[2]!)![0]);
    // A crash after the cursor was written but before the segments were deleted.
    await writeFile(
      join(directory, 'acked.json'),
      JSON.stringify({ version: 1, ackedSeq: firstSeqOfThird - 1 }),
    );
    const outbox = await open();
    expect(await segmentFiles()).toEqual(files.slice(2));
    expect(outbox.ackedSeq).toBe(firstSeqOfThird - 1);
    expect(await seqs(outbox, outbox.ackedSeq)).toEqual(
      Array.from({ length: 12 - firstSeqOfThird + 1 }, (_, i) => firstSeqOfThird + i),
    );
    expect(outbox.backlog().records).toBe(12 - firstSeqOfThird + 1);
  });

  it('continues numbering above the cursor when every segment is gone', async () => {
    await writeAndClose(3);
    await writeFile(join(directory, 'acked.json'), JSON.stringify({ version: 1, ackedSeq: 3 }));
    for (const name of await segmentFiles()) await rm(join(directory, name));
    const outbox = await open();
    const appended = outbox.append({ key: 'k', topic: 'usage', payload: Buffer.from('x') });
    clock.advance(5);
    expect(await appended).toBe(4);
  });

  it('writes the cursor with a CRC-32C of its seq, which the next open checks and accepts', async () => {
    const outbox = await open();
    for (let seq = 1; seq <= 3; seq += 1) {
      const appended = outbox.append({ key: `req-${seq}`, topic: 'usage', payload: Buffer.from('x') });
      clock.advance(5);
      await appended;
    }
    await outbox.ack(2);
    await outbox.close();
    const cursor = JSON.parse(await readFile(join(directory, 'acked.json'), 'utf8')) as unknown;
    expect(cursor).toEqual({ version: 1, ackedSeq: 2, crc32c: crc32c(Buffer.from('2')) });
    const reopened = await open();
    expect(reopened.ackedSeq).toBe(2);
    expect(corruptions).toEqual([]);
    expect(await seqs(reopened, reopened.ackedSeq)).toEqual([3]);
  });

  // A bit flip that leaves valid digits (2 → 3 is one bit) would move the cursor forward and silently drop
  // the records it skips: the checksum turns it into a reported corruption and a re-ship.
  it('rejects a cursor whose checksum does not match: reports it and re-ships everything on disk', async () => {
    await writeAndClose(12, { segmentMaxBytes: 150 });
    const writer = await open();
    await writer.ack(2); // nothing deleted yet: the first segment holds more than records 1–2
    await writer.close();
    const path = join(directory, 'acked.json');
    const text = await readFile(path, 'utf8');
    await writeFile(path, text.replace('"ackedSeq":2', '"ackedSeq":3'));
    const firstSegmentSeq = Number(/\d+/.exec((await segmentFiles())[0]!)![0]);
    const outbox = await open();
    expect(corruptions).toEqual([
      { file: 'acked.json', offset: 0, skippedBytes: 0, reason: expect.stringMatching(/checksum/) as string },
    ]);
    expect(outbox.ackedSeq).toBe(firstSegmentSeq - 1);
    expect(await seqs(outbox, outbox.ackedSeq)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(outbox.backlog().records).toBe(12);
  });

  it('takes the lowest seq the segments can hold − 1 for a bad cursor, not 0, once older segments are gone', async () => {
    await writeAndClose(12, { segmentMaxBytes: 150 });
    const files = await segmentFiles();
    const firstSeqOfThird = Number(/\d+/.exec(files[2]!)![0]);
    const writer = await open();
    await writer.ack(firstSeqOfThird - 1); // deletes the first two segments
    await writer.close();
    expect(await segmentFiles()).toEqual(files.slice(2));
    await writeFile(
      join(directory, 'acked.json'),
      JSON.stringify({ version: 1, ackedSeq: 12, crc32c: crc32c(Buffer.from('11')) }),
    );
    const outbox = await open();
    expect(corruptions).toEqual([expect.objectContaining({ file: 'acked.json' })]);
    expect(outbox.ackedSeq).toBe(firstSeqOfThird - 1);
    expect(await seqs(outbox, outbox.ackedSeq)).toEqual(
      Array.from({ length: 12 - firstSeqOfThird + 1 }, (_, i) => firstSeqOfThird + i),
    );
    const appended = outbox.append({ key: 'k', topic: 'usage', payload: Buffer.from('x') });
    clock.advance(5);
    expect(await appended).toBe(13);
  });

  it('accepts a cursor written without a checksum (by an outbox older than it)', async () => {
    await writeAndClose(3);
    await writeFile(join(directory, 'acked.json'), `${JSON.stringify({ version: 1, ackedSeq: 2 })}\n`);
    const outbox = await open();
    expect(corruptions).toEqual([]);
    expect(outbox.ackedSeq).toBe(2);
    expect(await seqs(outbox, outbox.ackedSeq)).toEqual([3]);
  });

  it('rejects a checksum that is not a 32-bit unsigned integer', async () => {
    await writeAndClose(3);
    await writeFile(
      join(directory, 'acked.json'),
      JSON.stringify({ version: 1, ackedSeq: 2, crc32c: String(crc32c(Buffer.from('2'))) }),
    );
    const outbox = await open();
    expect(corruptions).toEqual([expect.objectContaining({ file: 'acked.json' })]);
    expect(outbox.ackedSeq).toBe(0);
    expect(await seqs(outbox)).toEqual([1, 2, 3]);
  });

  it('reports an unreadable cursor and re-delivers from the start rather than failing', async () => {
    await writeAndClose(3);
    await writeFile(join(directory, 'acked.json'), '{"version":1,"ack');
    const outbox = await open();
    expect(corruptions).toEqual([expect.objectContaining({ file: 'acked.json' })]);
    expect(outbox.ackedSeq).toBe(0);
    expect(await seqs(outbox)).toEqual([1, 2, 3]);
  });
});
