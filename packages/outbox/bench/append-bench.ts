// Append throughput and latency of the outbox with fsync on, at several concurrencies, in the per-batch
// sync mode (fdatasync before an append resolves) and the interval mode (10 ms background fdatasync).
// Run: cd packages/outbox && pnpm exec tsx bench/append-bench.ts [directory] [secondsPerCase]
// `directory` defaults to a fresh temp dir: put it on the disk the data plane will use, since the figures
// are mostly that disk's fdatasync latency. Prints figures; asserts nothing.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Outbox } from '../src/index.js';

interface Case {
  concurrency: number;
  maxBatchDelayMs: number;
  /** Background fdatasync interval (interval mode), or undefined for the per-batch mode. */
  intervalMs?: number;
}

interface Result extends Case {
  appends: number;
  appendsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Commits (write, + fsync in per-batch mode) and background fsyncs (interval mode). */
  commits: number;
  fsyncs: number;
}

const CASES: Case[] = [
  { concurrency: 1, maxBatchDelayMs: 2 },
  { concurrency: 16, maxBatchDelayMs: 2 },
  { concurrency: 64, maxBatchDelayMs: 2 },
  { concurrency: 1, maxBatchDelayMs: 0 },
  { concurrency: 16, maxBatchDelayMs: 0 },
  { concurrency: 64, maxBatchDelayMs: 0 },
  { concurrency: 1, maxBatchDelayMs: 0, intervalMs: 10 },
  { concurrency: 16, maxBatchDelayMs: 0, intervalMs: 10 },
  { concurrency: 64, maxBatchDelayMs: 0, intervalMs: 10 },
];
const PAYLOAD = Buffer.alloc(300, 7); // about the size of an encoded UsageRecord

async function runCase(directory: string, benchCase: Case, seconds: number): Promise<Result> {
  let commits = 0;
  let fsyncs = 0;
  const interval = benchCase.intervalMs !== undefined;
  const outbox = await Outbox.open({
    directory,
    maxBatchDelayMs: benchCase.maxBatchDelayMs,
    sync: interval ? { mode: 'interval', intervalMs: benchCase.intervalMs! } : { mode: 'per-batch' },
    events: {
      onCommit: () => {
        commits += 1;
        if (!interval) fsyncs += 1;
      },
      onSync: () => (fsyncs += 1),
    },
  });
  const latencies: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  const worker = async (id: number): Promise<void> => {
    for (let i = 0; performance.now() < deadline; i += 1) {
      const started = performance.now();
      await outbox.append({ key: `req-${id}-${i}`, topic: 'usage', payload: PAYLOAD });
      latencies.push(performance.now() - started);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: benchCase.concurrency }, (_, id) => worker(id)));
  const elapsedSeconds = (performance.now() - started) / 1000;
  await outbox.close();
  latencies.sort((a, b) => a - b);
  const quantile = (q: number): number =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return {
    ...benchCase,
    appends: latencies.length,
    appendsPerSecond: latencies.length / elapsedSeconds,
    p50Ms: quantile(0.5),
    p99Ms: quantile(0.99),
    commits,
    fsyncs,
  };
}

const [directoryArgument, secondsArgument] = process.argv.slice(2);
const seconds = Number(secondsArgument ?? 3);
const root = directoryArgument ?? (await mkdtemp(join(tmpdir(), 'outbox-bench-')));
const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
out(`outbox append bench: fsync on, ${PAYLOAD.length} B payloads, ${seconds} s per case, in ${root}`);
out('mode        concurrency  delay_ms  appends/s   p50_ms   p99_ms  writes/s   fsyncs/s  records/fsync');
try {
  for (const [index, benchCase] of CASES.entries()) {
    const result = await runCase(join(root, `case-${index}`), benchCase, seconds);
    out(
      [
        (result.intervalMs === undefined ? 'per-batch' : `interval ${result.intervalMs}`).padEnd(11),
        String(result.concurrency).padStart(11),
        String(result.maxBatchDelayMs).padStart(9),
        result.appendsPerSecond.toFixed(0).padStart(10),
        result.p50Ms.toFixed(2).padStart(8),
        result.p99Ms.toFixed(2).padStart(8),
        (result.commits / seconds).toFixed(0).padStart(9),
        (result.fsyncs / seconds).toFixed(0).padStart(10),
        (result.appends / Math.max(1, result.fsyncs)).toFixed(1).padStart(14),
      ].join(' '),
    );
  }
} finally {
  if (directoryArgument === undefined) await rm(root, { recursive: true, force: true });
}
