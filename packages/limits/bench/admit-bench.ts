// Microseconds per admit + settle for the memory and Redis limit stores. Prints, asserts nothing.
//   pnpm exec tsx packages/limits/bench/admit-bench.ts [redis-url] [iterations]
// Default redis://127.0.0.1:6379 and 5000 iterations. Keys live under a unique prefix and are deleted after.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import {
  createMemoryLimitStore,
  createRedisLimitStore,
  type LimitPlan,
  type LimitStore,
} from '../src/index.js';

const redisUrl = process.argv[2] ?? 'redis://127.0.0.1:6379';
const iterations = Number(process.argv[3] ?? 5000);

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

async function measure(label: string, store: LimitStore, concurrency: number): Promise<void> {
  const runId = randomUUID();
  for (let index = 0; index < 200; index++) await admitAndSettle(store, `warm-${runId}-${String(index)}`);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < iterations) await admitAndSettle(store, `${runId}-${String(next++)}`);
    }),
  );
  const elapsedMs = performance.now() - started;
  const microsPerPair = (elapsedMs * 1000) / iterations;
  process.stdout.write(
    `${label.padEnd(28)} concurrency ${String(concurrency).padStart(3)}: ` +
      `${microsPerPair.toFixed(1).padStart(8)} µs per admit+settle (wall / count), ` +
      `${Math.round(iterations / (elapsedMs / 1000))} pairs/s\n`,
  );
}

const memory = createMemoryLimitStore({ clock: { now: () => Date.now() } });
await measure('memory', memory, 1);
await measure('memory', memory, 32);

const redis = new Redis(redisUrl);
const keyPrefix = `bench:limits:${randomUUID()}:`;
try {
  const store = createRedisLimitStore({ redis, keyPrefix, commandTimeoutMs: 5000 });
  await measure('redis (1 round trip each)', store, 1);
  await measure('redis (1 round trip each)', store, 32);
} finally {
  let cursor = '0';
  do {
    const [nextCursor, keys] = await redis.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000);
    cursor = nextCursor;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
  await redis.quit();
}
