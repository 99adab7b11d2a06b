// CPU per record of the outbox's append path, in process: crc32c over one frame, encodeFrame, and
// Outbox.append end to end as the data plane runs it (interval sync mode, 10 ms, small batches written
// with a synchronous pwrite), `perTurn` appends per event-loop turn (concurrent requests) awaited together.
// Prints process CPU time (process.cpuUsage, user + system, all threads) per record over several runs, and
// the load average; asserts nothing.
// It measures the build (dist/, as the data plane runs it), not the sources: tsx transpiles with esbuild's
// keepNames, which renames every closure as it is created (a defineProperty call), and that alone doubled
// the figure for append (a few closures per call).
// Run: pnpm --filter @api-router/outbox build && cd packages/outbox &&
//      pnpm exec tsx bench/append-cpu-bench.ts [records] [runs] [perTurn]
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

import type * as Crc32cModule from '../src/crc32c.js';
import type * as FrameCodecModule from '../src/frame-codec.js';
import type * as OutboxModule from '../src/index.js';

/** A module of the build, typed as its source. */
async function built<T>(file: string): Promise<T> {
  return (await import(new URL(`../dist/${file}`, import.meta.url).href)) as T;
}
const { crc32c } = await built<typeof Crc32cModule>('crc32c.js');
const { encodeFrame } = await built<typeof FrameCodecModule>('frame-codec.js');
const { Outbox } = await built<typeof OutboxModule>('index.js');

const records = Number(process.argv[2] ?? 200_000);
const runs = Number(process.argv[3] ?? 5);
const perTurn = Number(process.argv[4] ?? 8);
/** About an encoded UsageRecord. */
const PAYLOAD = Buffer.alloc(176, 7);
const KEYS = Array.from(
  { length: 1024 },
  (_, index) => `0193a5f2-7c1e-7d3a-9b4f-${String(index).padStart(12, '0')}`,
);
let sink = 0;

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
const load = (): string =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');

function cpuMicros(before: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(before);
  return used.user + used.system;
}

function frameCodecRun(): { crc: number; encode: number } {
  const frame = encodeFrame({ seq: 1, appendedAtMs: 1, key: KEYS[0]!, topic: 'usage', payload: PAYLOAD });
  let before = process.cpuUsage();
  for (let i = 0; i < records; i += 1) sink ^= crc32c(frame, 8, frame.length, i);
  const crc = cpuMicros(before) / records;
  before = process.cpuUsage();
  for (let i = 0; i < records; i += 1) {
    sink += encodeFrame({
      seq: i + 1,
      appendedAtMs: 1_764_150_000_000 + i,
      key: KEYS[i & 1023]!,
      topic: 'usage',
      payload: PAYLOAD,
    }).length;
  }
  return { crc, encode: cpuMicros(before) / records };
}

async function appendRun(directory: string, fsync: boolean): Promise<number> {
  const outbox = await Outbox.open({
    directory,
    fsync,
    sync: { mode: 'interval', intervalMs: 10 },
    maxSyncWriteBytes: 64 * 1024,
  });
  const before = process.cpuUsage();
  for (let i = 0; i < records; i += perTurn) {
    const turn: Promise<number>[] = [];
    for (let j = 0; j < perTurn; j += 1) {
      turn.push(outbox.append({ key: KEYS[(i + j) & 1023]!, topic: 'usage', payload: PAYLOAD }));
    }
    sink += (await Promise.all(turn)).length;
  }
  const perRecord = cpuMicros(before) / records;
  await outbox.close();
  return perRecord;
}

const root = await mkdtemp(join(tmpdir(), 'outbox-append-cpu-'));
out(
  `outbox append CPU: ${records} records of ${PAYLOAD.length} B per run, ${runs} runs, ${perTurn} appends per turn`,
);
out(`load average before ${load()}`);
try {
  frameCodecRun(); // warm-up
  for (let run = 1; run <= runs; run += 1) {
    const { crc, encode } = frameCodecRun();
    const unsynced = await appendRun(join(root, `run-${run}-nosync`), false);
    const synced = await appendRun(join(root, `run-${run}-interval`), true);
    out(
      `run ${run}: crc32c(${PAYLOAD.length + 58} B frame body) ${crc.toFixed(3)} µs, encodeFrame ${encode.toFixed(3)} µs, ` +
        `append (fsync off) ${unsynced.toFixed(2)} µs, append (interval 10 ms) ${synced.toFixed(2)} µs per record`,
    );
  }
} finally {
  await rm(root, { recursive: true, force: true });
}
out(`load average after ${load()} (sink ${sink})`);
