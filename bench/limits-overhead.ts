// One file on purpose (~530 lines): its two measurements (end to end and in process) share the policy,
// the argument parsing and the report; the data-plane spawning lives in bench-data-plane.ts, the profile
// run windows in profile-runs.ts, the on-vs-off summary in limits-summary.ts.
// Benchmark (prints figures, asserts nothing): the router CPU that admission adds per request with
// Redis-backed limits and budgets. One mock backend process, the control plane, a private Redis and one data
// plane (DP_REDIS_URL set) as separate processes; autocannon drives the same chat-completions body through
// the data plane at fixed concurrency, alternately with a key without limits, of a tenant without limits
// ("off"), and a key with a
// request rate, a token rate, a concurrency limit and a budget, under a tenant with a daily budget ("on":
// one Redis admission script and one settlement script per request). CPU per request is the data plane's
// utime+stime (/proc) over the measured run divided by the responses; Redis's own CPU is printed beside it,
// and Redis's reads from its clients per request (INFO stats: under load one read takes many calls).
//
//   pnpm exec tsx bench/limits-overhead.ts [--connections 50] [--duration 10] [--warmup 10] [--rounds 2]
//     [--rate <req/s>] [--source] [--no-pin] [--cpu-prof]
//
// Limits are set far above the offered load, so every request is admitted (a denial would be a different,
// cheaper path). Rounds alternate off/on so that machine noise hits both. Each run is preceded by a warm-up of
// its own mode (default 10 s; with 3 s the first "off" run, measured first, was 10-20 us per request above
// the later ones while V8 was still compiling, which understated what limits add); warm-up and measured window
// are one uninterrupted load run (bench/load-run.ts). Needs `pnpm build` (services run
// from dist/ as in production) unless --source. Figures are only as quiet as the machine: the load average
// is printed before and after; the summary gives both the difference of the two modes' medians and the median
// of each round's own difference (on − off of the same round: drift between rounds cancels out of it).
// --rate is autocannon's overallRate: each connection may send rate/connections requests per second, back
// to back from the start of each second, then waits for the next one. So a run at 3 000 req/s is bursts at
// full speed with idle time between them, not a steady 3 000 req/s (p50 6-12 ms against a 0 ms backend),
// and both modes see the same pattern. With --rate the summary adds both figures over the rounds in which
// both modes held 95 % of the rate (a run that fell short is not at the same load). --cpu-prof writes the
// data plane's V8 CPU profile and, beside it, runs.json: each measured run's start and end on the profile's
// clock, to look at one mode's samples alone.
//
//   pnpm exec tsx bench/limits-overhead.ts --in-process [--iterations 20000] [--concurrency 1,32]
//     [--rounds 2] [--spaced]
//
// --in-process: no HTTP, no processes but a private Redis. The data plane's own admission (createAdmission:
// the controller over the Redis store, with the data plane's Redis client options) admits and finishes
// (settles) requests of the same two keys in this process; the figure is this process's CPU
// (process.cpuUsage) per request, settlement included (each run ends when every settlement has been
// written), beside Redis's CPU (INFO cpu). It isolates what the end-to-end figure is about from the HTTP
// server's, the proxy's and autocannon's much larger and noisier share. The admission code runs from dist/
// (`pnpm exec turbo run build --filter @api-router/data-plane...` first); with --source from src/, then
// run it as `node --conditions=source --import tsx bench/limits-overhead.ts --in-process --source` (tsx
// adds a __name() call to every closure, which the built code does not pay). --data-plane-dir <dir> loads
// another build of the data plane package (e.g. an older commit's, to compare), here and end to end.
// --spaced puts each admission and each settlement in an event-loop turn of its own (as at a steady, sparse
// request rate) instead of letting a settlement and the next admission leave in one write.
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { hashApiKey } from '@api-router/auth';
import { createLogger, createMetricsRegistry } from '@api-router/observability';
import { compileRuntimePolicy, compileSnapshot, parseConfig, type RuntimePolicy } from '@api-router/policy';
import { repoRoot, startRedis, stopPid, type ServiceHandle } from '@api-router/testing';
import type * as CreateAdmission from '../services/data-plane/src/admission/create-admission.js';
import type * as DataPlaneClock from '../services/data-plane/src/clock.js';
import type * as DataPlaneTimers from '../services/data-plane/src/timers.js';
import { DEMO_MODEL } from '../test/support/inference-config.js';
import { startInferenceStack } from '../test/support/inference-stack.js';
import type { PlaneWorkspace } from '../test/support/planes.js';
import { addedCpu, formatPaired, heldRateSummary } from './limits-summary.js';
import { median } from './median.js';
import { startBenchDataPlane, type BenchDataPlane } from './bench-data-plane.js';
import { runLoad, type LoadRunResult } from './load-run.js';
import { pinBenchmarkProcesses, type CpuPinning } from './cpu-pinning.js';
import { coreBusy, coreTimes, cpuPerRequest, processCpu, processCpuMicros } from './process-cpu.js';
import { ProfileRuns, type ProfileRunHandle } from './profile-runs.js';

const { values: args } = parseArgs({
  options: {
    connections: { type: 'string', default: '50' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '2' },
    source: { type: 'boolean', default: false },
    rate: { type: 'string' },
    'in-process': { type: 'boolean', default: false },
    iterations: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '1,32' },
    spaced: { type: 'boolean', default: false },
    'data-plane-dir': { type: 'string' },
    'no-pin': { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
  },
});
const connections = Number(args.connections);
const durationSeconds = Number(args.duration);
const warmupSeconds = Number(args.warmup);
const rounds = Number(args.rounds);
const runtime = args.source ? 'source' : 'built';
const overallRate = args.rate === undefined ? undefined : Number(args.rate);

const KEYS = {
  off: 'rk_benchfree.bench-secret-without-limits',
  on: 'rk_benchlimits.bench-secret-with-limits',
} as const;
// max_tokens set, so both keys send the backend the same body (a request without one gets a cap imposed
// when its key is charged tokens or money).
const BODY = JSON.stringify({
  model: DEMO_MODEL,
  messages: [{ role: 'user', content: 'Hello' }],
  max_tokens: 16,
});

function publicId(key: string): string {
  return key.slice(0, key.indexOf('.'));
}

// Limits far above any load this machine can offer: every request is admitted, and pays for every check.
function benchPoliciesYaml(): string {
  const key = (full: string, tenant: string, limits: string[]): string[] => [
    `  - publicId: ${publicId(full)}`,
    `    secretSha256: ${hashApiKey(full).toString('hex')}`,
    `    tenant: ${tenant}`,
    "    allowedModels: ['*']",
    ...limits,
  ];
  return [
    'tenants:',
    '  - id: bench-free',
    '    displayName: Benchmark tenant without limits',
    '  - id: bench',
    '    displayName: Benchmark tenant',
    '    limits:',
    "      budgets: [{ id: daily, limitUsd: '1000000', period: day }]",
    'apiKeys:',
    ...key(KEYS.off, 'bench-free', []),
    ...key(KEYS.on, 'bench', [
      '    limits:',
      '      requestsPerMinute: 100000000',
      '      requestBurst: 1000000',
      '      tokensPerMinute: 1000000000',
      '      tokenBurst: 100000000',
      '      maxConcurrent: 100000',
      "      budgets: [{ id: total, limitUsd: '1000000', period: total }]",
    ]),
    '',
  ].join('\n');
}

function writeBenchPolicies(workspace: PlaneWorkspace): void {
  writeFileSync(workspace.policiesConfig, benchPoliciesYaml());
}

const profileDir = args['cpu-prof'] ? mkdtempSync(join(tmpdir(), 'bench-limits-profile-')) : undefined;
/** With --cpu-prof: when each measured run ran. */
const profileRuns = new ProfileRuns();

function startDataPlane(workspace: PlaneWorkspace, redisUrl: string): Promise<BenchDataPlane> {
  return startBenchDataPlane(workspace, {
    runtime,
    packageDir: args['data-plane-dir'],
    nodeArgs: profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`],
    env: { LOG_LEVEL: 'info', DP_ID: 'dp-bench-limits', DP_REDIS_URL: redisUrl },
  });
}

interface Measured extends LoadRunResult {
  routerCpuMicrosPerRequest: number;
  redisCpuMicrosPerRequest: number;
  /** Reads Redis made from its clients per request (each read takes whatever calls arrived together). */
  redisReadsPerRequest: number;
  /** How busy each core was (Redis shares the load generator's core). */
  coresBusy: string;
  /** The data plane's CPU per request split into main thread and other threads, user and system. */
  routerSplit: string;
}

async function measure(
  run: string,
  url: string,
  key: string,
  pids: { router: number; redis: number },
  redisAdmin: Redis,
): Promise<Measured> {
  const load = {
    url,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: BODY,
    connections,
    overallRate,
  };
  // Readings at the window's two ends, taken while the load runs (see runLoad).
  const read = async () => ({
    router: processCpuMicros(pids.router),
    split: processCpu(pids.router),
    redis: processCpuMicros(pids.redis),
    reads: await redisReads(redisAdmin),
    cores: coreTimes(),
  });
  let before: Awaited<ReturnType<typeof read>> | undefined;
  let after: Awaited<ReturnType<typeof read>> | undefined;
  let profiled: ProfileRunHandle | undefined;
  const result = await runLoad({
    ...load,
    warmupSeconds,
    durationSeconds,
    onWindowStart: async () => {
      before = await read();
      profiled = profileRuns.begin(run, pids.router);
    },
    onWindowEnd: async () => {
      profiled?.end();
      after = await read();
    },
  });
  if (before === undefined || after === undefined) throw new Error('the measured window did not run');
  profiled?.counted(result.completed);
  return {
    ...result,
    routerCpuMicrosPerRequest: (after.router - before.router) / result.completed,
    redisCpuMicrosPerRequest: (after.redis - before.redis) / result.completed,
    redisReadsPerRequest: (after.reads - before.reads) / result.completed,
    coresBusy: coreBusy(before.cores, after.cores),
    routerSplit: cpuPerRequest(before.split, after.split, result.completed),
  };
}

function row(cells: (string | number)[]): string {
  return cells
    .map((cell, index) => String(cell)[index === 0 ? 'padEnd' : 'padStart'](index === 0 ? 18 : 12))
    .join(' ');
}

function fixed(value: number, digits = 2): string {
  return Number.isNaN(value) ? '-' : value.toFixed(digits);
}

async function main(): Promise<void> {
  // Before anything starts (every later process inherits it): the data plane gets a core of its own while
  // it serves, Redis, the mock, the control plane and autocannon share the rest (bench/cpu-pinning.ts).
  const pinning: CpuPinning | undefined = args['no-pin'] ? undefined : pinBenchmarkProcesses();
  const pinned =
    pinning === undefined
      ? 'unpinned'
      : `data plane pinned to CPU ${pinning.serverCpu}, Redis + load generator + the rest to CPU ${pinning.otherCpus}`;
  process.stdout.write(
    `limits overhead: ${connections} connections${overallRate === undefined ? '' : ` at ${overallRate} req/s`}, ` +
      `${warmupSeconds} s warm-up + ${durationSeconds} s per run, ${rounds} rounds, services ${runtime}, ` +
      `node ${process.version}; ${pinned}; load average before ${loadavg()
        .map((v) => v.toFixed(2))
        .join(' ')}\n\n`,
  );
  let redis: ServiceHandle | undefined;
  const redisRunDir = mkdtempSync(join(tmpdir(), 'bench-limits-redis-'));
  const stack = await startInferenceStack({
    mocks: { 'mock-a': { MOCK_RECORD_LIMIT: '0' }, 'mock-b': 'mock-a' },
    prepare: writeBenchPolicies,
    runtime,
  });
  await stack.dataPlane.process.stop();
  let dataPlane: BenchDataPlane | undefined;
  let redisAdmin: Redis | undefined;
  try {
    redis = await startRedis({ runDir: redisRunDir });
    dataPlane = await startDataPlane(stack.workspace, redis.url);
    const pids = { router: dataPlane.child.pid!, redis: redis.pid };
    pinning?.pinServer(pids.router);
    redisAdmin = new Redis(redis.url);
    const results: Record<'off' | 'on', Measured[]> = { off: [], on: [] };
    process.stdout.write(
      `${row(['run', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'errors', 'router µs/req', 'redis µs/req', 'redis reads/req'])}\n`,
    );
    for (let round = 1; round <= rounds; round += 1) {
      for (const mode of ['off', 'on'] as const) {
        const measured = await measure(
          `round ${round} limits ${mode}`,
          `${dataPlane.url}/v1/chat/completions`,
          KEYS[mode],
          pids,
          redisAdmin,
        );
        results[mode].push(measured);
        process.stdout.write(
          `${row([
            `round ${round} limits ${mode}`,
            fixed(measured.requestsPerSecond, 0),
            fixed(measured.p50Ms),
            fixed(measured.p99Ms),
            measured.non2xx,
            measured.errors,
            fixed(measured.routerCpuMicrosPerRequest, 1),
            fixed(measured.redisCpuMicrosPerRequest, 1),
            fixed(measured.redisReadsPerRequest),
          ])}\n`,
        );
      }
    }
    process.stdout.write(
      `\nrouter CPU per request: ${results.off
        .flatMap((off, index) => [`off ${off.routerSplit}`, `on ${results.on[index]?.routerSplit ?? '-'}`])
        .join('; ')}\n`,
    );
    process.stdout.write(
      `\ncores busy: ${results.off
        .flatMap((off, index) => [`off ${off.coresBusy}`, `on ${results.on[index]?.coresBusy ?? '-'}`])
        .join('; ')}\n`,
    );
    const measuredRounds = results.on.map((on, index) => ({
      on,
      off: results.off[index]!,
      round: index + 1,
    }));
    const all = addedCpu(measuredRounds);
    const redisCpu = median(results.on.map((measured) => measured.redisCpuMicrosPerRequest));
    process.stdout.write(
      `\nrouter CPU per request (median of ${rounds}): limits off ${fixed(all.off, 1)} µs, ` +
        `on ${fixed(all.on, 1)} µs → added ${fixed(all.on - all.off, 1)} µs (target ≤ 40 µs); ` +
        `median of each round's difference ${formatPaired(all.paired)} µs; ` +
        `Redis ${fixed(redisCpu, 1)} µs/request with limits on\n` +
        (overallRate === undefined ? '' : heldRateSummary(measuredRounds, overallRate)) +
        `load average after ${loadavg()
          .map((v) => v.toFixed(2))
          .join(' ')} (shared machine: figures are noisy)\n`,
    );
  } finally {
    await redisAdmin?.quit();
    if (dataPlane?.child.pid !== undefined) await stopPid(dataPlane.child.pid);
    await stack.stop();
    await redis?.stop();
    await rm(redisRunDir, { recursive: true, force: true });
  }
  if (profileDir !== undefined) {
    profileRuns.write(profileDir);
    process.stdout.write(
      `data-plane CPU profile in ${profileDir}, with runs.json: when each measured run ran (profile clock)\n`,
    );
  }
}

// ---- --in-process: the data plane's admission over the Redis store, in this process ----

function benchPolicy(): RuntimePolicy {
  const routerFile = join(repoRoot(), 'configs/router.sample.yaml');
  const config = parseConfig({
    router: { source: routerFile, text: readFileSync(routerFile, 'utf8') },
    policies: { source: 'bench:policies.yaml', text: benchPoliciesYaml() },
  });
  const snapshot = compileSnapshot(config, { version: 1n, sourceRevision: 'bench', createdAt: new Date() });
  return compileRuntimePolicy(snapshot);
}

/** Reads from client sockets Redis has made (INFO stats total_reads_processed; this client's included). */
async function redisReads(admin: Redis): Promise<number> {
  const info = await admin.info('stats');
  return Number(/^total_reads_processed:(\d+)/m.exec(info)?.[1]);
}

/** Seconds of CPU Redis has used (user + system), from INFO cpu. */
async function redisCpuSeconds(admin: Redis): Promise<number> {
  const info = await admin.info('cpu');
  const field = (name: string): number => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1]);
  return field('used_cpu_user') + field('used_cpu_sys');
}

interface InProcessRun {
  clientMicros: number;
  redisMicros: number;
  wallMicros: number;
}

/**
 * `iterations` requests of one key through a fresh admission (createAdmission, as the data plane builds it),
 * `concurrency` at a time: admit, then finish as served with usage (the settlement runs in the background,
 * as in the data plane). The run ends once admission has closed, i.e. every settlement has been written.
 */
/** The data plane's admission modules, from dist/ (built) or src/ (--source). */
interface AdmissionModules {
  readonly createAdmission: typeof CreateAdmission.createAdmission;
  readonly systemClock: typeof DataPlaneClock.systemClock;
  readonly systemTimers: typeof DataPlaneTimers.systemTimers;
}

async function loadAdmissionModules(): Promise<AdmissionModules> {
  const dataPlaneDir = args['data-plane-dir'] ?? join(repoRoot(), 'services/data-plane');
  const base = join(dataPlaneDir, runtime === 'built' ? 'dist' : 'src');
  if (!existsSync(base)) throw new Error(`${base} is missing: run pnpm build`);
  const load = async <T>(path: string): Promise<T> =>
    (await import(pathToFileURL(join(base, path)).href)) as T;
  const [admission, clock, timers] = await Promise.all([
    load<typeof CreateAdmission>('admission/create-admission.js'),
    load<typeof DataPlaneClock>('clock.js'),
    load<typeof DataPlaneTimers>('timers.js'),
  ]);
  return {
    createAdmission: admission.createAdmission,
    systemClock: clock.systemClock,
    systemTimers: timers.systemTimers,
  };
}

/** Resolves in the check phase of this event-loop iteration: what follows runs after this turn's I/O. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function inProcessRun(
  modules: AdmissionModules,
  redis: Redis,
  admin: Redis,
  policy: RuntimePolicy,
  mode: 'off' | 'on',
  concurrency: number,
  iterations: number,
): Promise<InProcessRun> {
  const parts = modules.createAdmission(
    { timeoutMs: 2000, probeIntervalMs: 1000, queueMaxLength: 10_000 },
    {
      redis,
      clock: modules.systemClock,
      timers: modules.systemTimers,
      random: Math.random,
      now: () => performance.now(),
      logger: createLogger({ service: 'bench', level: 'warn' }),
      metricsRegistry: createMetricsRegistry({ defaultLabels: {} }),
      audit: { record: () => Promise.resolve() },
    },
  );
  const route = policy.routesByModel.get(DEMO_MODEL);
  if (route === undefined) throw new Error(`the sample router config has no ${DEMO_MODEL} route`);
  const principal = {
    keyId: publicId(KEYS[mode]),
    tenantId: mode === 'on' ? 'bench' : 'bench-free',
    allowedModels: ['*'],
    scheme: 'api_key' as const,
  };
  const signal = new AbortController().signal;
  const messages = [{ role: 'user', content: 'Hello' }];
  const backendId = route.targets[0]!.backend.id;
  let headerCount = 0;
  let next = 0;
  const runId = `${mode}-${String(concurrency)}-${String(Date.now())}`;
  const one = async (index: number): Promise<void> => {
    const admission = await parts.controller.admit({
      requestId: `${runId}-${String(index)}`,
      principal,
      policy,
      route,
      cost: { model: DEMO_MODEL, messages, maxOutputTokens: 16 },
      signal,
      remainingMs: () => 10_000,
      onHeaders: (headers) => {
        headerCount += Object.keys(headers).length;
      },
      log: { debug: () => undefined, level: 'info' },
    });
    if (args.spaced) await nextTurn();
    admission.finish({ responded: true, backendId, usage: { inputTokens: 9, outputTokens: 16 } });
    if (args.spaced) await nextTurn();
  };
  for (let index = 0; index < 200; index++) await one(-1 - index);
  const redisBefore = await redisCpuSeconds(admin);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < iterations) await one(next++);
    }),
  );
  await parts.close();
  const wallMicros = (performance.now() - started) * 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const redisAfter = await redisCpuSeconds(admin);
  if (mode === 'on' && headerCount === 0) throw new Error('limits on, but no rate-limit headers');
  return {
    clientMicros: (cpu.user + cpu.system) / iterations,
    redisMicros: ((redisAfter - redisBefore) * 1e6) / iterations,
    wallMicros: wallMicros / iterations,
  };
}

async function inProcess(): Promise<void> {
  const iterations = Number(args.iterations);
  const concurrencies = args.concurrency.split(',').map(Number);
  const load = (): string =>
    loadavg()
      .map((v) => v.toFixed(2))
      .join(' ');
  process.stdout.write(
    `limits overhead in process: data-plane admission (admit + settle, from ${args['data-plane-dir'] ?? 'services/data-plane'}/${runtime === 'built' ? 'dist' : 'src'}) over a private Redis, ` +
      `${String(iterations)} requests per run, ${String(rounds)} rounds${args.spaced ? ', spaced (admit and settle each in a turn of its own)' : ''}, node ${process.version}; ` +
      `load average before ${load()}\n\n`,
  );
  const redisRunDir = mkdtempSync(join(tmpdir(), 'bench-limits-redis-'));
  const redisService = await startRedis({ runDir: redisRunDir });
  // The data plane's client options (services/data-plane/src/service.ts).
  const redis = new Redis(redisService.url, {
    maxRetriesPerRequest: 1,
    commandTimeout: 1000,
    enableAutoPipelining: true,
  });
  const admin = new Redis(redisService.url);
  try {
    const modules = await loadAdmissionModules();
    const policy = benchPolicy();
    const added = new Map<number, number[]>();
    for (let round = 1; round <= rounds; round += 1) {
      for (const concurrency of concurrencies) {
        const off = await inProcessRun(modules, redis, admin, policy, 'off', concurrency, iterations);
        const on = await inProcessRun(modules, redis, admin, policy, 'on', concurrency, iterations);
        added.set(concurrency, [...(added.get(concurrency) ?? []), on.clientMicros - off.clientMicros]);
        process.stdout.write(
          `round ${String(round)} c=${String(concurrency).padStart(3)}: router CPU per request ` +
            `off ${fixed(off.clientMicros, 1)} µs, on ${fixed(on.clientMicros, 1)} µs ` +
            `(added ${fixed(on.clientMicros - off.clientMicros, 1)} µs); ` +
            `Redis ${fixed(on.redisMicros, 1)} µs; wall on ${fixed(on.wallMicros, 1)} µs\n`,
        );
      }
    }
    for (const [concurrency, values] of added) {
      process.stdout.write(
        `\nc=${String(concurrency)}: added router CPU per request, median of ${String(rounds)}: ` +
          `${fixed(median(values), 1)} µs (target ≤ 40 µs)`,
      );
    }
    process.stdout.write(`\nload average after ${load()} (shared machine: figures are noisy)\n`);
  } finally {
    await admin.quit();
    await redis.quit();
    await redisService.stop();
    await rm(redisRunDir, { recursive: true, force: true });
  }
}

await (args['in-process'] ? inProcess() : main());
