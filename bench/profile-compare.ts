// Diagnostic (prints, asserts nothing): where two kinds of measured runs spend their CPU, per request, side
// by side. Reads a --cpu-prof directory of bench/inference-overhead.ts (runs "router run N" and "bare proxy
// run N") or bench/limits-overhead.ts ("round N limits on" / "… off"): each run's samples inside its
// measured window, from the profile of its pid, weighted by the sampling interval they stand for, summed
// over every run that matches and divided by their responses. Rows are functions (self time: the function's
// own code, builtins such as JSON.parse included) or, with --by module, the package or source directory
// they belong to; sorted by A − B, so the top rows are what A pays that B does not.
//
//   pnpm exec tsx bench/profile-compare.ts --dir <profile dir> [--a router] [--b "bare proxy"] [--by function|module] [--top 40]
//   pnpm exec tsx bench/profile-compare.ts --dir <profile dir> --a "limits on" --b "limits off"
//
// The V8 profiler samples the main thread's stack: time on other threads (GC helpers, the threadpool) is
// not in it, but when they take the main thread's core (a pinned server) the main thread's samples land
// where it was interrupted — read the native rows (writev, fdatasync) with that in mind.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ProfileRun } from './profile-runs.js';
import { functionOf, type V8CallFrame } from './v8-call-frame.js';

const { values: args } = parseArgs({
  options: {
    dir: { type: 'string' },
    a: { type: 'string', default: 'router' },
    b: { type: 'string', default: 'bare proxy' },
    by: { type: 'string', default: 'function' },
    top: { type: 'string', default: '40' },
  },
});
if (args.dir === undefined) throw new Error('--dir <profile directory> is required');
if (args.by !== 'function' && args.by !== 'module') throw new Error('--by is function or module');
const directory = args.dir;

/** The parts of a V8 .cpuprofile this reads. */
interface CpuProfile {
  nodes: { id: number; callFrame: V8CallFrame }[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** The package (`fastify`), Node module (`node:_http_server`), source directory (`data-plane/records`) or V8 bucket. */
function moduleOf(frame: V8CallFrame): string {
  const { url, functionName } = frame;
  if (url === '')
    return functionName.startsWith('(') ? functionName : `native ${functionName || '(anonymous)'}`;
  const dependency = /.*node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (dependency !== null) return dependency[1]!;
  if (url.startsWith('node:')) return url.replace(/^node:(internal\/)?/, 'node:').split('/')[0]!;
  const own = /\/(services|packages)\/([^/]+)\/(?:dist|src)\/(?:([^/]+)\/)?/.exec(url);
  if (own !== null)
    return [own[2], own[3]?.endsWith('.js') === false ? own[3] : undefined].filter(Boolean).join('/');
  return url;
}

const runs = JSON.parse(readFileSync(join(directory, 'runs.json'), 'utf8')) as ProfileRun[];
const profileFiles = readdirSync(directory).filter((name) => name.endsWith('.cpuprofile'));

/** A process's main-thread profile: the largest of its files (tsx's loader thread writes a small one too). */
function profileOf(pid: number): CpuProfile {
  const files = profileFiles
    .filter((name) => name.split('.').includes(String(pid)))
    .sort((x, y) => statSync(join(directory, y)).size - statSync(join(directory, x)).size);
  if (files[0] === undefined) throw new Error(`no profile of pid ${pid} in ${directory}`);
  return JSON.parse(readFileSync(join(directory, files[0]), 'utf8')) as CpuProfile;
}

/** µs per request by row, over every run whose name contains `match`. */
function perRequest(match: string): { rows: Map<string, number>; runs: number; requests: number } {
  const chosen = runs.filter((run) => run.run.includes(match));
  if (chosen.length === 0) throw new Error(`no run named like "${match}" in runs.json`);
  const micros = new Map<string, number>();
  let requests = 0;
  for (const run of chosen) {
    requests += run.requests;
    const profile = profileOf(run.pid);
    const rowOf = new Map(
      profile.nodes.map((node) => [
        node.id,
        args.by === 'module' ? moduleOf(node.callFrame) : functionOf(node.callFrame),
      ]),
    );
    let time = profile.startTime;
    for (let index = 0; index < profile.samples.length; index += 1) {
      time += profile.timeDeltas[index]!;
      if (time < run.startMicros || time > run.endMicros) continue;
      // A sample stands for the interval until the next one (as DevTools counts it).
      const weight = profile.timeDeltas[index + 1] ?? profile.timeDeltas[index]!;
      const row = rowOf.get(profile.samples[index]!)!;
      micros.set(row, (micros.get(row) ?? 0) + weight);
    }
  }
  if (requests === 0) throw new Error(`the runs named like "${match}" have no request count`);
  return {
    rows: new Map([...micros].map(([row, total]) => [row, total / requests])),
    runs: chosen.length,
    requests,
  };
}

const a = perRequest(args.a);
const b = perRequest(args.b);
const total = (rows: Map<string, number>): number =>
  [...rows.values()].reduce((sum, value) => sum + value, 0);
const idle = (rows: Map<string, number>): number => rows.get('(idle)') ?? 0;
const µs = (value: number): string => value.toFixed(1).padStart(8);
const out = [
  `A = "${args.a}": ${a.runs} run(s), ${a.requests} requests, ${total(a.rows).toFixed(1)} µs of main-thread samples per request (idle ${idle(a.rows).toFixed(1)})`,
  `B = "${args.b}": ${b.runs} run(s), ${b.requests} requests, ${total(b.rows).toFixed(1)} µs of main-thread samples per request (idle ${idle(b.rows).toFixed(1)})`,
  '',
  `${'A µs'.padStart(8)}${'B µs'.padStart(8)}${'A − B'.padStart(8)}  ${args.by}`,
];
const rows = [...new Set([...a.rows.keys(), ...b.rows.keys()])]
  .map((row) => ({ row, a: a.rows.get(row) ?? 0, b: b.rows.get(row) ?? 0 }))
  .sort((x, y) => y.a - y.b - (x.a - x.b));
for (const { row, a: inA, b: inB } of rows.slice(0, Number(args.top)))
  out.push(`${µs(inA)}${µs(inB)}${µs(inA - inB)}  ${row}`);
process.stdout.write(`${out.join('\n')}\n`);
