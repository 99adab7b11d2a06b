// Benchmark (prints figures, asserts nothing): the router CPU that admission adds per request with
// Redis-backed limits and budgets. One mock backend process, the control plane, a private Redis and one data
// plane (DP_REDIS_URL set) as separate processes; autocannon drives the same chat-completions body through
// the data plane at fixed concurrency, alternately with a key without limits, of a tenant without limits
// ("off"), and a key with a
// request rate, a token rate, a concurrency limit and a budget, under a tenant with a daily budget ("on":
// one Redis admission script and one settlement script per request). CPU per request is the data plane's
// utime+stime (/proc) over the measured run divided by the responses; Redis's own CPU is printed beside it.
//
//   pnpm exec tsx bench/limits-overhead.ts [--connections 50] [--duration 10] [--warmup 3] [--rounds 2]
//     [--rate <req/s>] [--source]
//
// Limits are set far above the offered load, so every request is admitted (a denial would be a different,
// cheaper path). Rounds alternate off/on so that machine noise hits both. Needs `pnpm build` (services run
// from dist/ as in production) unless --source. Figures are only as quiet as the machine: the load average
// is printed before and after.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, writeFileSync, existsSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { hashApiKey } from '@api-router/auth';
import { freePort, repoRoot, startRedis, stopPid, type ServiceHandle } from '@api-router/testing';
import { DEMO_MODEL } from '../test/support/inference-config.js';
import { startInferenceStack } from '../test/support/inference-stack.js';
import { eventually, readiness, type PlaneWorkspace } from '../test/support/planes.js';
import { runLoad, type LoadRunResult } from './load-run.js';
import { processCpuMicros } from './process-cpu.js';

const { values: args } = parseArgs({
  options: {
    connections: { type: 'string', default: '50' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '2' },
    source: { type: 'boolean', default: false },
    rate: { type: 'string' },
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
function writeBenchPolicies(workspace: PlaneWorkspace): void {
  const key = (full: string, tenant: string, limits: string[]): string[] => [
    `  - publicId: ${publicId(full)}`,
    `    secretSha256: ${hashApiKey(full).toString('hex')}`,
    `    tenant: ${tenant}`,
    "    allowedModels: ['*']",
    ...limits,
  ];
  writeFileSync(
    workspace.policiesConfig,
    [
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
    ].join('\n'),
  );
}

interface BenchDataPlane {
  url: string;
  child: ChildProcess;
  logFile: string;
}

// Spawned with its log in a file (not a pipe the busy benchmark process would have to drain).
async function startDataPlane(workspace: PlaneWorkspace, redisUrl: string): Promise<BenchDataPlane> {
  const port = await freePort();
  const logFile = join(workspace.dir, 'data-plane.log');
  const log = openSync(logFile, 'a');
  const entry =
    runtime === 'built'
      ? [join(repoRoot(), 'services/data-plane/dist/main.js')]
      : ['--conditions=source', '--import', 'tsx', 'services/data-plane/src/main.ts'];
  if (runtime === 'built' && !existsSync(entry[0]!))
    throw new Error(`${entry[0]} is missing: run pnpm build`);
  const child = spawn(process.execPath, entry, {
    cwd: repoRoot(),
    stdio: ['ignore', log, log],
    env: {
      ...process.env,
      LOG_LEVEL: 'info',
      DP_ID: 'dp-bench-limits',
      DP_PORT: String(port),
      DP_CONTROL_PLANE_ADDRESS: `127.0.0.1:${workspace.grpcPort}`,
      DP_CACHE_DIR: workspace.dpCacheDir,
      DP_DRAIN_DELAY_MS: '0',
      DP_REDIS_URL: redisUrl,
    },
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await eventually(async () => ((await readiness(url)).status === 200 ? true : undefined), 30_000);
  } catch (error: unknown) {
    if (child.pid !== undefined) await stopPid(child.pid);
    throw new Error(`data plane not ready; its log: ${logFile}`, { cause: error });
  }
  return { url, child, logFile };
}

interface Measured extends LoadRunResult {
  routerCpuMicrosPerRequest: number;
  redisCpuMicrosPerRequest: number;
}

async function measure(url: string, key: string, pids: { router: number; redis: number }): Promise<Measured> {
  const load = {
    url,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: BODY,
    connections,
    overallRate,
  };
  await runLoad({ ...load, durationSeconds: warmupSeconds });
  const routerBefore = processCpuMicros(pids.router);
  const redisBefore = processCpuMicros(pids.redis);
  const result = await runLoad({ ...load, durationSeconds });
  return {
    ...result,
    routerCpuMicrosPerRequest: (processCpuMicros(pids.router) - routerBefore) / result.completed,
    redisCpuMicrosPerRequest: (processCpuMicros(pids.redis) - redisBefore) / result.completed,
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

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

async function main(): Promise<void> {
  process.stdout.write(
    `limits overhead: ${connections} connections${overallRate === undefined ? '' : ` at ${overallRate} req/s`}, ` +
      `${warmupSeconds} s warm-up + ${durationSeconds} s per run, ${rounds} rounds, services ${runtime}, ` +
      `node ${process.version}; load average before ${loadavg()
        .map((v) => v.toFixed(2))
        .join(' ')}\n\n`,
  );
  let redis: ServiceHandle | undefined;
  const stack = await startInferenceStack({
    mocks: { 'mock-a': { MOCK_RECORD_LIMIT: '0' }, 'mock-b': 'mock-a' },
    prepare: writeBenchPolicies,
    runtime,
  });
  await stack.dataPlane.process.stop();
  let dataPlane: BenchDataPlane | undefined;
  try {
    redis = await startRedis({ runDir: mkdtempSync(join(tmpdir(), 'bench-limits-redis-')) });
    dataPlane = await startDataPlane(stack.workspace, redis.url);
    const pids = { router: dataPlane.child.pid!, redis: redis.pid };
    const results: Record<'off' | 'on', Measured[]> = { off: [], on: [] };
    process.stdout.write(
      `${row(['run', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'errors', 'router µs/req', 'redis µs/req'])}\n`,
    );
    for (let round = 1; round <= rounds; round += 1) {
      for (const mode of ['off', 'on'] as const) {
        const measured = await measure(`${dataPlane.url}/v1/chat/completions`, KEYS[mode], pids);
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
          ])}\n`,
        );
      }
    }
    const cpu = (mode: 'off' | 'on'): number =>
      median(results[mode].map((measured) => measured.routerCpuMicrosPerRequest));
    const redisCpu = median(results.on.map((measured) => measured.redisCpuMicrosPerRequest));
    process.stdout.write(
      `\nrouter CPU per request (median of ${rounds}): limits off ${fixed(cpu('off'), 1)} µs, ` +
        `on ${fixed(cpu('on'), 1)} µs → added ${fixed(cpu('on') - cpu('off'), 1)} µs (target ≤ 40 µs); ` +
        `Redis ${fixed(redisCpu, 1)} µs/request with limits on\n` +
        `load average after ${loadavg()
          .map((v) => v.toFixed(2))
          .join(' ')} (shared machine: figures are noisy)\n`,
    );
  } finally {
    if (dataPlane?.child.pid !== undefined) await stopPid(dataPlane.child.pid);
    await stack.stop();
    await redis?.stop();
  }
}

await main();
