// Cost of one admit + settle for the memory and Redis limit stores. Prints, asserts nothing.
//
//   pnpm exec turbo run build --filter @api-router/limits
//   pnpm exec tsx packages/limits/bench/admit-bench.ts [--redis-url URL] [--iterations 5000]
//     [--concurrency 1,32] [--stores memory,redis] [--rounds 1] [--source]
//
// The stores run from dist/ (tsc output, as the data plane runs them) unless --source: tsx compiles src/
// with esbuild's keepNames, which wraps every closure created per call in a __name() call — a cost the
// built code does not have.
//
// Per store and concurrency it prints:
// - client CPU: this process's user + system CPU (process.cpuUsage) over the measured loop / admit+settle
//   pairs. This is the router's share — what the issue 4 target (≤ 40 µs added per request) is about. It
//   includes everything of this process (ioredis, the store, the garbage collector's threads).
// - wall time / pairs: includes Redis's own CPU when Redis runs on the same machine, so it is not the
//   router's cost.
// - Redis CPU (Redis store only): used_cpu_user + used_cpu_sys from INFO cpu, before and after, / pairs.
//   Only meaningful when nobody else uses that Redis: without --redis-url the benchmark starts a private
//   redis-server (packages/testing) on a free port and stops it (by pid) at the end.
// The Redis client has the data plane's options (services/data-plane/src/service.ts), auto-pipelining
// included. The load average is printed before and after: on a shared machine figures are only as quiet as
// the machine.
//
// Profile the Redis path with, e.g.:
//   node --cpu-prof --cpu-prof-dir=.tmp/prof --import tsx \
//     packages/limits/bench/admit-bench.ts --stores redis --concurrency 32 --iterations 50000
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { startRedis, type ServiceHandle } from '@api-router/testing';
import { Redis } from 'ioredis';
import type * as Limits from '../src/index.js';
import type { LimitPlan, LimitStore } from '../src/index.js';

const { values: args } = parseArgs({
  options: {
    'redis-url': { type: 'string' },
    iterations: { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '1,32' },
    stores: { type: 'string', default: 'memory,redis' },
    rounds: { type: 'string', default: '1' },
    source: { type: 'boolean', default: false },
  },
});
const entry = args.source ? '../src/index.js' : '../dist/index.js';
const { createMemoryLimitStore, createRedisLimitStore } = (await import(entry)) as typeof Limits;
const iterations = Number(args.iterations);
const concurrencies = args.concurrency.split(',').map(Number);
const stores = new Set(args.stores.split(','));
const rounds = Number(args.rounds);

// A realistic plan: key and tenant request/token buckets, key concurrency, tenant monthly budget.
// Limits are high enough that every admission is allowed: the benchmark measures the allowed path.
const plan: LimitPlan = {
  partition: 'bench-tenant',
  checks: [
    { kind: 'requests', id: 'key:rpm', ratePerMinute: 1_000_000_000, burst: 1_000_000_000 },
    { kind: 'tokens', id: 'key:tpm', tokensPerMinute: 1_000_000_000, burst: 1_000_000_000 },
    { kind: 'concurrency', id: 'key:slots', max: 1_000_000 },
    { kind: 'requests', id: 'tenant:rpm', ratePerMinute: 1_000_000_000, burst: 1_000_000_000 },
    { kind: 'tokens', id: 'tenant:tpm', tokensPerMinute: 1_000_000_000, burst: 1_000_000_000 },
    { kind: 'budget', id: 'tenant:month', limitMicros: 1_000_000_000_000_000, period: 'month' },
  ],
};

async function admitAndSettle(store: LimitStore, requestId: string): Promise<void> {
  const decision = await store.admit({
    requestId,
    plan,
    costs: { tokens: 2000, costMicros: 5000 },
    reservationTtlMs: 60_000,
  });
  if (!decision.allowed) throw new Error(`benchmark admission denied by ${decision.deniedBy.id}`);
  await store.settle(decision.reservation, { tokens: 1200, costMicros: 3100 });
}

/** Seconds of CPU Redis has used (user + system), from INFO cpu. */
async function redisCpuSeconds(admin: Redis): Promise<number> {
  const info = await admin.info('cpu');
  const field = (name: string): number => {
    const match = new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info);
    if (match?.[1] === undefined) throw new Error(`INFO cpu has no ${name}`);
    return Number(match[1]);
  };
  return field('used_cpu_user') + field('used_cpu_sys');
}

async function measure(label: string, store: LimitStore, concurrency: number, admin?: Redis): Promise<void> {
  const runId = randomUUID();
  for (let index = 0; index < 500; index++) await admitAndSettle(store, `warm-${runId}-${String(index)}`);
  let next = 0;
  const redisBefore = admin === undefined ? 0 : await redisCpuSeconds(admin);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < iterations) await admitAndSettle(store, `${runId}-${String(next++)}`);
    }),
  );
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const redisAfter = admin === undefined ? 0 : await redisCpuSeconds(admin);
  const perPair = (micros: number): string => (micros / iterations).toFixed(1).padStart(7);
  const redisPart = admin === undefined ? '' : `, redis CPU ${perPair((redisAfter - redisBefore) * 1e6)} µs`;
  process.stdout.write(
    `${label.padEnd(6)} c=${String(concurrency).padStart(3)}: client CPU ${perPair(cpu.user + cpu.system)} µs ` +
      `(user ${perPair(cpu.user)}, sys ${perPair(cpu.system)}), wall ${perPair(elapsedMs * 1000)} µs` +
      `${redisPart} per admit+settle; ${String(Math.round(iterations / (elapsedMs / 1000)))} pairs/s\n`,
  );
}

const load = (): string =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');
process.stdout.write(
  `admit+settle, ${String(iterations)} pairs per run, ${String(plan.checks.length)} checks, ` +
    `stores from ${args.source ? 'src (tsx)' : 'dist'}; load average ${load()}\n`,
);

let privateRedis: ServiceHandle | undefined;
let runDir: string | undefined;
let redis: Redis | undefined;
let admin: Redis | undefined;
const keyPrefix = `bench:limits:${randomUUID()}:`;
try {
  let redisStore: LimitStore | undefined;
  if (stores.has('redis')) {
    let url = args['redis-url'];
    if (url === undefined) {
      runDir = mkdtempSync(join(tmpdir(), 'admit-bench-'));
      privateRedis = await startRedis({ runDir });
      url = privateRedis.url;
    }
    // The data plane's client options (services/data-plane/src/service.ts).
    redis = new Redis(url, { maxRetriesPerRequest: 1, commandTimeout: 1000, enableAutoPipelining: true });
    admin = new Redis(url);
    redisStore = createRedisLimitStore({ redis, keyPrefix, commandTimeoutMs: 5000 });
  }
  const memory = createMemoryLimitStore({ clock: { now: () => Date.now() } });
  for (let round = 0; round < rounds; round++) {
    for (const concurrency of concurrencies) {
      if (stores.has('memory')) await measure('memory', memory, concurrency);
      if (redisStore !== undefined) await measure('redis', redisStore, concurrency, admin);
    }
  }
} finally {
  if (admin !== undefined) {
    if (privateRedis === undefined) {
      let cursor = '0';
      do {
        const [nextCursor, keys] = await admin.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000);
        cursor = nextCursor;
        if (keys.length > 0) await admin.del(...keys);
      } while (cursor !== '0');
    }
    await admin.quit();
  }
  await redis?.quit();
  await privateRedis?.stop();
  if (runDir !== undefined) rmSync(runDir, { recursive: true, force: true });
  process.stdout.write(`load average after: ${load()}\n`);
}
