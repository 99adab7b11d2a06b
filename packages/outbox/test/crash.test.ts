import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { repoRoot, stopPid } from '@api-router/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Outbox, type TornTailReport } from '../src/index.js';
import { payloadForKey } from './fixtures/payload-for-key.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/append-loop.ts', import.meta.url));

/** The outbox's sync mode and the shipper's lazy-ack interval in the child. */
interface Mode {
  sync: 'per-batch' | 'interval';
  ackIntervalMs: number;
}

interface ChildRun {
  child: ChildProcess;
  lines: string[];
  /** Resolves when stdout is fully read after the process ended. */
  closed: Promise<void>;
  /** Resolves once `count` lines starting with `prefix` were printed. */
  waitForLines(prefix: string, count: number): Promise<void>;
}

function startChild(directory: string, mode: Mode): ChildRun {
  const child = spawn(
    process.execPath,
    [
      '--conditions=source',
      '--import',
      'tsx',
      FIXTURE,
      directory,
      '8',
      '32768',
      mode.sync,
      String(mode.ackIntervalMs),
    ],
    {
      cwd: repoRoot(),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines: string[] = [];
  const waiters: { prefix: string; count: number; resolve: () => void }[] = [];
  const counts = new Map<string, number>();
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line);
    const prefix = line.split(' ', 1)[0]!;
    counts.set(prefix, (counts.get(prefix) ?? 0) + 1);
    for (const waiter of [...waiters]) {
      if ((counts.get(waiter.prefix) ?? 0) >= waiter.count) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  });
  const waitForLines = (prefix: string, count: number): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      if ((counts.get(prefix) ?? 0) >= count) return resolve();
      waiters.push({ prefix, count, resolve });
      void closed.then(() => reject(new Error(`child exited before ${count} "${prefix}" lines:\n${stderr}`)));
    });
  return { child, lines, closed, waitForLines };
}

describe('outbox under kill -9', () => {
  let directory: string;
  const pids: number[] = [];

  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'outbox-crash-'));
  });
  afterEach(async () => {
    for (const pid of pids.splice(0)) await stopPid(pid, { signal: 'SIGKILL' });
    await rm(directory, { recursive: true, force: true });
  });

  it.each<Mode>([
    { sync: 'per-batch', ackIntervalMs: 0 },
    { sync: 'interval', ackIntervalMs: 100 },
  ])(
    'keeps every record whose append resolved, across repeated crashes at random points (%o)',
    async (mode) => {
      const appended = new Map<number, string>();
      const shipped = new Set<number>();
      const tornTails: TornTailReport[] = [];
      const killPoints = [1, 40, 300, 1_200, 3_000].map((base) => base + Math.floor(Math.random() * base));
      for (const killAfter of killPoints) {
        const run = startChild(directory, mode);
        pids.push(run.child.pid!);
        await run.waitForLines('A', killAfter);
        process.kill(run.child.pid!, 'SIGKILL');
        await run.closed;
        for (const line of run.lines) {
          const [kind, seq, key] = line.split(' ');
          if (kind === 'A') {
            expect(appended.has(Number(seq)), `seq ${seq} handed out twice`).toBe(false);
            appended.set(Number(seq), key!);
          } else if (kind === 'S') shipped.add(Number(seq));
        }

        const outbox = await Outbox.open({
          directory,
          events: { onTornTail: (report) => tornTails.push(report) },
        });
        try {
          const present = new Map<number, { key: string; payload: Uint8Array }>();
          for (let after = outbox.ackedSeq; ;) {
            const batch = await outbox.read(after, { maxRecords: 5_000, maxBytes: 8 << 20 });
            if (batch.length === 0) break;
            for (const record of batch) present.set(record.seq, record);
            after = batch[batch.length - 1]!.seq;
          }
          const lost = [...appended.keys()].filter((seq) => !present.has(seq) && !shipped.has(seq));
          expect(lost, `killed after ${killAfter} appends (points ${killPoints.join(', ')})`).toEqual([]);
          for (const [seq, record] of present) {
            const key = appended.get(seq);
            // Records whose append never resolved may be present too (at least once), but never damaged.
            if (key !== undefined) expect(record.key).toBe(key);
            expect(Buffer.from(record.payload).equals(Buffer.from(payloadForKey(record.key)))).toBe(true);
          }
          for (const seq of appended.keys()) {
            if (seq <= outbox.ackedSeq)
              expect(shipped.has(seq), `seq ${seq} acked but never delivered`).toBe(true);
          }
        } finally {
          await outbox.close();
        }
      }
      expect(appended.size).toBeGreaterThan(killPoints.reduce((sum, point) => sum + point, 0) - 1);
    },
  );
});
