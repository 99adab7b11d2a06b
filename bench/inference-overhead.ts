// Benchmark (prints figures, asserts nothing): what the router adds to a request. One mock backend
// process, the control plane and the data plane (embedded mode, API-key auth) as separate processes; for a
// 0 ms and a 20 ms backend, autocannon drives the same chat-completions body (a) at the mock directly and
// (b) through the data plane with the demo key, at fixed concurrency for a fixed duration after a warm-up.
// CPU per request is the serving process's utime+stime (/proc) over the measured run divided by the
// responses: the mock's for a direct run (a reference: a bare fastify server on this machine), the data
// plane's alone for a router run. A third row, "bare proxy" (services/data-plane/bench/bare-proxy.ts: fastify + an undici Pool
// relaying the same request, nothing else), is the floor any fastify + undici router sits on here.
//
//   pnpm exec tsx bench/inference-overhead.ts [--connections 50] [--duration 10] [--warmup 10]
//     [--latencies 0,20] [--rate <req/s>] [--source] [--cpu-prof] [--log-level info] [--no-bare-proxy] [--no-pin]
//     [--node-args="--trace-gc ..."] [--data-plane-dir <dir>] [--rounds 1] [--gc-stats]
//
// Every run begins with a warm-up of the same row (default 10 s): after 3 s the data plane was still
// compiling (its access lines showed the measured run's first 1.5 s slower, its p99 4 ms higher). Warm-up
// and measured window are one uninterrupted load run (bench/load-run.ts): a separate measured run restarted
// every connection at once, and its first ~0.5 s came in waves that were the benchmark's, not the server's.
// --server-node <path> runs the data plane and the bare proxy under another Node.js binary (a runtime A/B).
// --keep-log keeps the data plane's log (its access lines) and prints its path, e.g. for bench/slow-requests.ts.
// --rounds N measures every row N times, alternated (direct, direct CPU 0, router, bare proxy, again), and
// the summary gives each figure's median with every round's value: on a noisy machine one run per row
// decides nothing.
// --rate caps the offered load (requests/s over all connections): at fixed concurrency a router that runs
// out of CPU first shows queueing, not its per-request overhead; below saturation it shows the overhead.
// Needs `pnpm build` (services run from dist/ as in production) unless --source (src through tsx).
// --cpu-prof writes the V8 CPU profiles of the data plane and the bare proxy (all runs) into the printed
// directory, with runs.json beside them (when each measured run — "router 20 ms run 1", "bare proxy 0 ms run
// 2"… — ran, on the profiles' clock, its pid and its responses; bench/profile-compare.ts reads them);
// --log-level sets the data plane's LOG_LEVEL (default info, the service default: one access line per
// request). --node-args adds Node flags to the data plane's own (e.g. to try a GC setting); its log (which
// --trace-gc writes to) is then kept and its path printed. --data-plane-dir runs the data plane of another
// checkout's build (its services/data-plane directory, e.g. a git worktree of an older commit) against this
// one's stack: an A/B of two builds in alternated runs. --gc-stats runs the data plane and the bare proxy
// with V8's --trace-gc-nvp and prints, for each of their runs, the young-generation GCs over the run: how
// many, their mean and longest pause, the bytes each copied (survivors: what a pause follows) and the bytes
// allocated per request (bench/gc-trace.ts). At 50 connections a scavenge pause lands in every request in
// flight, so these are where a p99 goes when it is not in the CPU per request.
// Each measured server (mock for the direct row, data plane, bare proxy) runs pinned to a core of its own
// while the load generator and the rest share the others (bench/cpu-pinning.ts; --no-pin to let the
// scheduler place them). Pinned, a second direct row, "direct, CPU 0", measures the mock where it runs
// during the router and bare-proxy runs (beside the load generator): the like-for-like base for their
// latency, since the plain direct row gives the mock a core of its own that it does not have behind them.
// --control-plane-cpu server puts the control plane on the measured server's core too (default `others`:
// beside the load generator and the mock). Deployed, the control plane shares a core with neither; on two
// cores one of them must host it, and `server` keeps the mock's core the same in the direct and the router
// runs, charging the control plane's ingest to the router's side instead of the backend's.
// Figures are only as quiet as the machine: the load average is printed.
import { copyFileSync, mkdtempSync, readdirSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stopPid } from '@api-router/testing';
import { startInferenceStack } from '../test/support/inference-stack.js';
import { readiness, scrape, type PlaneWorkspace } from '../test/support/planes.js';
import { BODY, HEADERS, writeBenchPolicies } from './inference-bench-workload.js';
import { bucketsBetween, histogramBuckets, meanBetween, quantileUpperBound } from './histogram-quantiles.js';
import { startBareProxy, type BareProxy } from './bench-bare-proxy.js';
import { startBenchDataPlane, type BenchDataPlane } from './bench-data-plane.js';
import { runLoad } from './load-run.js';
import { pinBenchmarkProcesses, type CpuPinning } from './cpu-pinning.js';
import { setProcessNice } from './process-priority.js';
import { fixed, report, summarise, type Measured, type RoundResult } from './inference-overhead-report.js';
import { ProfileRuns, type ProfileRunHandle } from './profile-runs.js';
import { formatScavenges, logOffset, scavengesSince, type ScavengeStats } from './gc-trace.js';
import { eventLoopRun, formatEventLoopRun } from './event-loop-stats.js';
import {
  coreBusy,
  coreTimes,
  cpuPerRequest,
  peakRssMiB,
  processCpu,
  processCpuMicros,
  type CoreTimes,
  type ProcessCpu,
} from './process-cpu.js';

const { values: args } = parseArgs({
  options: {
    connections: { type: 'string', default: '50' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '10' },
    latencies: { type: 'string', default: '0,20' },
    source: { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    'log-level': { type: 'string', default: 'info' },
    'no-bare-proxy': { type: 'boolean', default: false },
    rate: { type: 'string' },
    'no-pin': { type: 'boolean', default: false },
    'node-args': { type: 'string' },
    'data-plane-dir': { type: 'string' },
    rounds: { type: 'string', default: '1' },
    'gc-stats': { type: 'boolean', default: false },
    'server-node': { type: 'string' },
    'control-plane-nice': { type: 'string', default: '19' },
    'control-plane-cpu': { type: 'string', default: 'others' },
    'keep-log': { type: 'boolean', default: false },
  },
});
const connections = Number(args.connections);
const durationSeconds = Number(args.duration);
const warmupSeconds = Number(args.warmup);
const rounds = Math.max(1, Number(args.rounds));
const backendLatenciesMs = args.latencies.split(',').map(Number);
const runtime = args.source ? 'source' : 'built';
const overallRate = args.rate === undefined ? undefined : Number(args.rate);
const extraNodeArgs = args['node-args']?.split(/\s+/).filter((flag) => flag !== '') ?? [];
const gcStats = args['gc-stats'];
const controlPlaneNice = Number(args['control-plane-nice']);
const controlPlaneCpu = args['control-plane-cpu'];
if (controlPlaneCpu !== 'others' && controlPlaneCpu !== 'server') {
  throw new Error(`--control-plane-cpu must be others or server, got ${controlPlaneCpu}`);
}
const GC_TRACE_FLAGS = gcStats ? ['--trace-gc-nvp'] : [];

function cpuProfileFlags(profileDir: string | undefined): string[] {
  return profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`];
}

function startDataPlane(workspace: PlaneWorkspace, profileDir: string | undefined): Promise<BenchDataPlane> {
  return startBenchDataPlane(workspace, {
    runtime,
    packageDir: args['data-plane-dir'],
    nodePath: args['server-node'],
    nodeArgs: [...extraNodeArgs, ...GC_TRACE_FLAGS, ...cpuProfileFlags(profileDir)],
    env: { LOG_LEVEL: args['log-level'], DP_ID: 'dp-bench' },
  });
}

/** A process besides the measured server whose CPU over the run is reported (it shares CPU 0 with autocannon). */
interface Companion {
  readonly name: string;
  readonly pid: number;
}

/** With --cpu-prof: when each measured router and bare-proxy run ran. */
const profileRuns = new ProfileRuns();

/**
 * A measured server: its pid, the router's URL for /metrics, with --gc-stats the log its GC trace goes to,
 * and with --cpu-prof the name its measured windows get in runs.json.
 */
interface MeasuredServer {
  pid: number;
  metricsUrl?: string;
  gcLog?: string | undefined;
  profiledAs?: string;
}

/** Warm-up, then the measured run of `server`. */
async function measure(
  url: string,
  server: MeasuredServer,
  companions: readonly Companion[] = [],
  placement: 'own core' | 'where it is' = 'own core',
): Promise<Measured> {
  if (placement === 'where it is') return await measurePinned(url, server, companions);
  pinning?.pinServer(server.pid);
  try {
    return await measurePinned(url, server, companions);
  } finally {
    pinning?.unpin(server.pid);
  }
}

async function measurePinned(
  url: string,
  server: MeasuredServer,
  companions: readonly Companion[],
): Promise<Measured> {
  const metrics = async (): Promise<string | undefined> =>
    server.metricsUrl === undefined ? undefined : scrape(server.metricsUrl);
  // Readings at the window's two ends, taken while the load runs (see runLoad).
  interface Readings {
    metrics: string | undefined;
    cpu: number;
    split: ProcessCpu;
    cores: CoreTimes;
    companions: number[];
    gcLog: number | undefined;
  }
  const read = (scraped: string | undefined): Readings => ({
    metrics: scraped,
    cpu: processCpuMicros(server.pid),
    split: processCpu(server.pid),
    cores: coreTimes(),
    companions: companions.map((companion) => processCpuMicros(companion.pid)),
    gcLog: server.gcLog === undefined ? undefined : logOffset(server.gcLog),
  });
  let before: Readings | undefined;
  let after: Readings | undefined;
  let scavenges: ScavengeStats | undefined;
  let profiled: ProfileRunHandle | undefined;
  let recordBacklog: string | undefined;
  const result = await runLoad({
    url,
    headers: HEADERS,
    body: BODY,
    connections,
    overallRate,
    warmupSeconds,
    durationSeconds,
    onWindowStart: async () => {
      before = read(await metrics());
      if (server.profiledAs !== undefined)
        profiled = profileRuns.begin(
          `${server.profiledAs} run ${profileRuns.count(server.profiledAs) + 1}`,
          server.pid,
        );
    },
    onWindowEnd: async () => {
      profiled?.end();
      // CPU and the GC log first: the scrape below is the window's end, not part of it.
      const cpu = read(undefined);
      if (server.gcLog !== undefined && before?.gcLog !== undefined)
        scavenges = scavengesSince(server.gcLog, before.gcLog);
      after = { ...cpu, metrics: await metrics() };
      if (server.metricsUrl !== undefined) recordBacklog = await outboxBacklog(server.metricsUrl);
    },
  });
  if (before === undefined || after === undefined) throw new Error('the measured window did not run');
  profiled?.counted(result.completed);
  const measured: Measured = {
    ...result,
    coresBusy: coreBusy(before.cores, after.cores),
    cpuMicrosPerRequest: (after.cpu - before.cpu) / result.completed,
    cpuSplit: cpuPerRequest(before.split, after.split, result.completed),
    othersCpu: companions
      .map((companion, index) => {
        const micros = after!.companions[index]! - before!.companions[index]!;
        return `${companion.name} ${fixed(micros / result.completed, 0)}`;
      })
      .join(', '),
  };
  if (scavenges !== undefined) measured.scavenges = formatScavenges(scavenges, result.completed);
  if (recordBacklog !== undefined) measured.recordBacklog = recordBacklog;
  const metricsBefore = before.metrics;
  const metricsAfter = after.metrics;
  if (metricsBefore !== undefined && metricsAfter !== undefined) {
    const run = bucketsBetween(
      histogramBuckets(metricsBefore, 'router_overhead_seconds'),
      histogramBuckets(metricsAfter, 'router_overhead_seconds'),
    );
    measured.routerOverheadMeanMs =
      meanBetween(metricsBefore, metricsAfter, 'router_overhead_seconds') * 1000;
    measured.routerOverheadP50Ms = quantileUpperBound(run, 0.5) * 1000;
    measured.routerOverheadP99Ms = quantileUpperBound(run, 0.99) * 1000;
    measured.eventLoop =
      `${formatEventLoopRun(eventLoopRun(metricsBefore, metricsAfter))}; ` +
      `peak RSS so far ${peakRssMiB(server.pid).toFixed(0)} MiB`;
  }
  return measured;
}

/** The data plane's outbox backlog from its readiness detail: records not yet delivered, the oldest one's age. */
async function outboxBacklog(dataPlaneUrl: string): Promise<string> {
  const { outbox } = (await readiness(dataPlaneUrl)).detail;
  return outbox === undefined ? '-' : `${outbox.pending} (oldest ${outbox.oldestAgeSeconds} s)`;
}

async function measureRound(
  latencyMs: number,
  mock: { url: string; process: { pid: number } },
  dataPlane: BenchDataPlane,
  controlPlanePid: number,
  bareProxy: BareProxy | undefined,
): Promise<RoundResult> {
  const directUrl = `${mock.url}/v1/chat/completions`;
  const direct = await measure(directUrl, { pid: mock.process.pid });
  const directShared =
    pinning === undefined
      ? undefined
      : await measure(directUrl, { pid: mock.process.pid }, [], 'where it is');
  const mockCompanion = { name: 'mock', pid: mock.process.pid };
  const router = await measure(
    `${dataPlane.url}/v1/chat/completions`,
    {
      pid: dataPlane.child.pid!,
      metricsUrl: dataPlane.url,
      gcLog: gcStats ? dataPlane.logFile : undefined,
      profiledAs: `router ${latencyMs} ms`,
    },
    [mockCompanion, { name: 'control plane', pid: controlPlanePid }],
  );
  const bare =
    bareProxy === undefined
      ? undefined
      : await measure(
          `${bareProxy.url}/v1/chat/completions`,
          { pid: bareProxy.child.pid!, gcLog: bareProxy.logFile, profiledAs: `bare proxy ${latencyMs} ms` },
          [mockCompanion],
        );
  return { direct, directShared, router, bare };
}

// Before anything starts: every process started from here on inherits the pinning.
const pinning: CpuPinning | undefined = args['no-pin'] ? undefined : pinBenchmarkProcesses();

async function main(): Promise<void> {
  const pinned =
    pinning === undefined
      ? 'unpinned'
      : `measured server pinned to CPU ${pinning.serverCpu}${controlPlaneCpu === 'server' ? ' (the control plane too)' : ''}, load generator + the rest to CPU ${pinning.otherCpus}`;
  process.stdout.write(
    `inference overhead: ${connections} connections${overallRate === undefined ? '' : ` at ${overallRate} req/s`}, ${warmupSeconds} s warm-up + ${durationSeconds} s per run, ` +
      `services ${runtime}${args['data-plane-dir'] === undefined ? '' : ` (data plane from ${args['data-plane-dir']})`}, data-plane LOG_LEVEL ${args['log-level']}, control plane at nice ${controlPlaneNice} for backend latencies above 0 ms, node ${process.version}; ${pinned}; load average before ${loadavg()
        .map((v) => v.toFixed(2))
        .join(' ')}\n\n`,
  );
  const profileDir = args['cpu-prof'] ? mkdtempSync(join(tmpdir(), 'bench-dp-profile-')) : undefined;
  const stack = await startInferenceStack({
    mocks: { 'mock-a': { MOCK_RECORD_LIMIT: '0' }, 'mock-b': 'mock-a' },
    prepare: writeBenchPolicies,
    // The stack's own data plane only proves the config; the measured one is started below.
    runtime,
  });
  await stack.dataPlane.process.stop();
  if (controlPlaneCpu === 'server') pinning?.pinServer(stack.controlPlane.process.pid);
  let dataPlane: BenchDataPlane | undefined;
  let bareProxy: BareProxy | undefined;
  try {
    dataPlane = await startDataPlane(stack.workspace, profileDir);
    const mock = stack.mocks['mock-a']!;
    if (!args['no-bare-proxy']) {
      bareProxy = await startBareProxy({
        upstream: mock.url,
        readyBody: BODY,
        nodePath: args['server-node'],
        nodeFlags: [...GC_TRACE_FLAGS, ...cpuProfileFlags(profileDir)],
        keepLog: gcStats,
      });
    }
    const summary: string[] = [];
    for (const latencyMs of backendLatenciesMs) {
      const faults = await fetch(`${mock.url}/control/faults`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ latencyMs }),
      });
      if (!faults.ok) throw new Error(`PUT /control/faults → ${faults.status}`);
      // The control plane ingests every usage record, off the request path; deployed, it never shares a core
      // with the model backend. Here it shares CPU 0 with the mock: at a backend latency that leaves CPU 0
      // idle time it runs at low priority, so that its ingest bursts and GC pauses wait for the mock instead
      // of delaying its answers (docs/performance-log.md, thirteenth VM). At 0 ms the load generator keeps CPU 0
      // busy, and the control plane needs its fair share to keep up with ~7 000 records/s.
      const nice = latencyMs === 0 ? 0 : controlPlaneNice;
      try {
        setProcessNice(stack.controlPlane.process.pid, nice);
      } catch (error: unknown) {
        // Raising a priority again (19 → 0) needs CAP_SYS_NICE: say so and measure as placed.
        process.stdout.write(`control plane left at its priority (nice ${nice} refused: ${String(error)})\n`);
      }
      const runs: RoundResult[] = [];
      for (let round = 1; round <= rounds; round += 1) {
        const result = await measureRound(
          latencyMs,
          mock,
          dataPlane,
          stack.controlPlane.process.pid,
          bareProxy,
        );
        if (rounds > 1) process.stdout.write(`${latencyMs} ms backend, round ${round} of ${rounds}\n`);
        report(`${latencyMs} ms`, result);
        runs.push(result);
      }
      summary.push(summarise(latencyMs, runs));
    }
    process.stdout.write(
      `${summary.join('\n')}\ntargets: 20 ms backend p99 difference ≤ 3 ms; 0 ms backend CPU ≤ 150 µs/request\n` +
        `load average after ${loadavg()
          .map((v) => v.toFixed(2))
          .join(' ')} (shared machine: figures are noisy)\n`,
    );
  } finally {
    if (bareProxy?.child.pid !== undefined) await stopPid(bareProxy.child.pid);
    if (dataPlane?.child.pid !== undefined) await stopPid(dataPlane.child.pid);
    if (dataPlane !== undefined && (extraNodeArgs.length > 0 || args['keep-log'])) {
      const kept = join(mkdtempSync(join(tmpdir(), 'bench-dp-log-')), 'data-plane.log');
      copyFileSync(dataPlane.logFile, kept);
      process.stdout.write(`data-plane log (node args: ${extraNodeArgs.join(' ') || 'none'}): ${kept}\n`);
    }
    await stack.stop();
  }
  if (profileDir !== undefined) {
    profileRuns.write(profileDir);
    process.stdout.write(
      `CPU profiles (data plane, bare proxy; the pid is in the name and in runs.json): ${readdirSync(
        profileDir,
      )
        .map((name) => join(profileDir, name))
        .join(', ')}\n`,
    );
  }
}

await main();
