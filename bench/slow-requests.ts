// Diagnostic (prints, asserts nothing): where a data plane's slowest requests were. Reads the data plane's
// access lines ("request completed": end time, `ms`, `upstream_ms`) from its log and the GCs that
// bench/gc-watch.mjs recorded for every process of the run, and prints, for the measured window: the
// percentiles of the router-side time, of its upstream share and of the rest; for each process, the share
// of all requests and of the slowest 1 % whose upstream interval met one of its GCs (a share well above
// the first says where the tail is); and the slowest requests grouped into clusters in time.
//
//   pnpm exec tsx bench/slow-requests.ts --log <data-plane log> --gc-dir <GC_WATCH_DIR> [--duration 10] [--tail 1]
//
// The window is the `--duration` seconds that end `--tail` seconds before the last access line (the
// inference benchmark keeps its load 1 s past the window). Access-line times have a 1 ms resolution.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { percentile } from './load-run.js';

const { values: args } = parseArgs({
  options: {
    log: { type: 'string' },
    'gc-dir': { type: 'string' },
    duration: { type: 'string', default: '10' },
    tail: { type: 'string', default: '1' },
  },
});
if (args.log === undefined || args['gc-dir'] === undefined)
  throw new Error('--log and --gc-dir are required');

interface AccessLine {
  endMs: number;
  ms: number;
  upstreamMs: number;
}
interface Gc {
  startMs: number;
  endMs: number;
}

const lines: AccessLine[] = [];
for (const text of readFileSync(args.log, 'utf8').split('\n')) {
  if (!text.includes('"request completed"')) continue;
  const line = JSON.parse(text) as { time: string; status: number; ms: number; upstream_ms?: number };
  if (line.status !== 200 || line.upstream_ms === undefined) continue;
  lines.push({ endMs: Date.parse(line.time), ms: line.ms, upstreamMs: line.upstream_ms });
}
if (lines.length === 0) throw new Error(`no inference access lines in ${args.log}`);
const windowEnd = lines[lines.length - 1]!.endMs - Number(args.tail) * 1000;
const windowStart = windowEnd - Number(args.duration) * 1000;
const run = lines.filter((line) => line.endMs > windowStart && line.endMs <= windowEnd);
const ascending = (values: number[]): number[] => values.sort((a, b) => a - b);
const upstreams = ascending(run.map((line) => line.upstreamMs));
const slowFrom = percentile(upstreams, 99);
const slow = run.filter((line) => line.upstreamMs >= slowFrom);

const out: string[] = [
  `${run.length} requests in the window; the slowest 1 %: upstream time ≥ ${slowFrom} ms`,
];
for (const [name, values] of [
  ['router-side total', run.map((line) => line.ms)],
  ['upstream', run.map((line) => line.upstreamMs)],
  ['the rest (router)', run.map((line) => line.ms - line.upstreamMs)],
] as const) {
  const sorted = ascending([...values]);
  const cells = [50, 90, 99, 99.9].map((p) => `p${p} ${percentile(sorted, p).toFixed(2)}`);
  out.push(`${name.padEnd(18)} ${cells.join(' · ')} ms`);
}

const meets = (line: AccessLine, gcs: readonly Gc[]): boolean =>
  gcs.some((gc) => gc.startMs <= line.endMs + 1 && gc.endMs >= line.endMs - line.upstreamMs);
for (const file of readdirSync(args['gc-dir']).filter((name) => /^gc-\d+\.log$/.test(name))) {
  const [header = '', ...records] = readFileSync(join(args['gc-dir'], file), 'utf8').trim().split('\n');
  const gcs: Gc[] = records
    .map((record) => record.split(' ').map(Number))
    .map(([start = 0, duration = 0]) => ({ startMs: start, endMs: start + duration }))
    .filter((gc) => gc.endMs > windowStart - 1000 && gc.startMs <= windowEnd);
  if (gcs.length === 0) continue;
  const share = (set: readonly AccessLine[]): string =>
    `${((100 * set.filter((line) => meets(line, gcs)).length) / set.length).toFixed(1)} %`;
  const paused = gcs.reduce((sum, gc) => sum + gc.endMs - gc.startMs, 0);
  out.push(
    `${header.replace(/^# /, '').slice(0, 60).padEnd(60)} ${gcs.length} GCs, ${paused.toFixed(0)} ms; ` +
      `meets all ${share(run)}, the slowest ${share(slow)}`,
  );
}

const clusters: { firstMs: number; count: number; maxMs: number }[] = [];
let lastEnd = Number.NEGATIVE_INFINITY;
for (const line of [...slow].sort((a, b) => a.endMs - b.endMs)) {
  const open = clusters[clusters.length - 1];
  if (open !== undefined && line.endMs - lastEnd <= 5) {
    open.count += 1;
    open.maxMs = Math.max(open.maxMs, line.upstreamMs);
  } else clusters.push({ firstMs: line.endMs, count: 1, maxMs: line.upstreamMs });
  lastEnd = line.endMs;
}
out.push(`the slowest in ${clusters.length} clusters (ms into the window: requests, longest upstream time):`);
out.push(
  clusters
    .map((c) => `${(c.firstMs - windowStart).toFixed(0)}: ${c.count}, ${c.maxMs.toFixed(1)}`)
    .join(' · '),
);
process.stdout.write(`${out.join('\n')}\n`);
