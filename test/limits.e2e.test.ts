import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisLimitStore, type LimitStore } from '@api-router/limits';
import { RESERVATION_SETTLEMENT_MARGIN_MS } from '@api-router/policy';
import { startRedis, type ServiceHandle } from '@api-router/testing';
import {
  addLimitedKeys,
  decisionRecords,
  maxInWindow,
  newKey,
  setLimitsRouterSettings,
  startLimitsDataPlane,
  type LimitedKey,
  type LimitsDataPlane,
} from './support/limits-planes.js';
import { startMockBackendProcess, type RunningMockBackend } from './support/mock-backend-process.js';
import { pointBackendsAt } from './support/inference-config.js';
import {
  createPlaneWorkspace,
  removePlaneWorkspace,
  eventually,
  metricValue,
  readiness,
  scrape,
  startControlPlaneProcess,
  type PlaneWorkspace,
  type RunningControlPlane,
} from './support/planes.js';

// Issue 4's admission acceptance with real processes: a dedicated Redis (this test stops, pauses and
// restarts it), one mock backend process behind both backends, the control plane, and two data-plane
// processes sharing the Redis. Cases run in order and share the processes.

const TENANT = 'limits-e2e';
/** Request deadline of the test's router config. */
const DEADLINE_MS = 10_000;
/**
 * Reservation TTL: the deadline plus the settlement margin, the shortest the config check accepts
 * (setLimitsRouterSettings); a crashed replica's reservations are reclaimed after it.
 */
const TTL_MS = DEADLINE_MS + RESERVATION_SETTLEMENT_MARGIN_MS;
/**
 * DP_LIMITS_TIMEOUT_MS: deadline of each limit store call. Above the 250 ms default because this machine's
 * two cores are shared by every process of the test: a data plane starved of CPU under the load phases must
 * not read its own stall as a Redis outage (it would then admit against the local share, by policy).
 */
const STORE_TIMEOUT_MS = 1000;
/** A request costs exactly its reservation: 100 output tokens × 1000 micros, input free (0.10 USD). */
const REQUEST_MICROS = 100_000;
const BUDGET_MICROS = 1_000_000;

const keys = {
  race: newKey('race'),
  fresh: newKey('fresh'),
  bucket: newKey('bucket'),
  orphan: newKey('orphan'),
  open: newKey('open'),
  closed: newKey('closed'),
  money: newKey('money'),
};
const BUCKET_RATE_PER_MINUTE = 600;
const BUCKET_BURST = 20;

let runDir: string;
let redis: ServiceHandle;
let redisPort: number;
let workspace: PlaneWorkspace;
let mock: RunningMockBackend;
let controlPlane: RunningControlPlane;
const dataPlanes: LimitsDataPlane[] = [];
let admin: Redis;
let store: LimitStore;

beforeAll(async () => {
  runDir = mkdtempSync(join(tmpdir(), 'limits-e2e-'));
  redis = await startRedis({ runDir });
  redisPort = Number(new URL(redis.url).port);
  workspace = await createPlaneWorkspace();
  mock = await startMockBackendProcess('mock-a', { MOCK_RECORD_LIMIT: '0' });
  pointBackendsAt(workspace.routerConfig, { 'mock-a': mock.url, 'mock-b': mock.url });
  setLimitsRouterSettings(workspace.routerConfig, DEADLINE_MS);
  const budget = (usd: string) => `{ budgets: [{ id: total, limitUsd: '${usd}', period: total }] }`;
  addLimitedKeys(workspace.policiesConfig, TENANT, [
    { key: keys.race, limits: budget('1.00') },
    { key: keys.fresh, limits: budget('1.00') },
    {
      key: keys.bucket,
      limits: `{ requestsPerMinute: ${BUCKET_RATE_PER_MINUTE}, requestBurst: ${BUCKET_BURST} }`,
    },
    {
      key: keys.orphan,
      limits: `{ maxConcurrent: 500, budgets: [{ id: total, limitUsd: '50.00', period: total }] }`,
    },
    {
      key: keys.open,
      limits: `{ requestsPerMinute: 60000, requestBurst: 1000, onStoreFailure: { rateLimits: fail-open, localShare: '0.5' } }`,
    },
    {
      key: keys.closed,
      limits: `{ requestsPerMinute: 60000, requestBurst: 1000, onStoreFailure: { rateLimits: fail-closed } }`,
    },
    { key: keys.money, limits: budget('1000') },
  ]);
  controlPlane = await startControlPlaneProcess(workspace);
  const env = {
    DP_REDIS_URL: redis.url,
    DP_LIMITS_TIMEOUT_MS: String(STORE_TIMEOUT_MS),
    DP_LIMITS_PROBE_INTERVAL_MS: '200',
  };
  for (const id of ['dp-limits-1', 'dp-limits-2']) {
    dataPlanes.push(await startLimitsDataPlane(workspace, id, env));
  }
  for (const dataPlane of dataPlanes) {
    await eventually(
      async () => ((await readiness(dataPlane.url)).status === 200 ? true : undefined),
      30_000,
      `${dataPlane.id} ready`,
    );
  }
  admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  // The Redis is stopped on purpose below: this client's reconnect errors are expected, not failures.
  admin.on('error', () => undefined);
  store = createRedisLimitStore({ redis: admin, keyPrefix: 'router:limits:', commandTimeoutMs: 5000 });
});

afterAll(async () => {
  admin?.disconnect();
  for (const dataPlane of dataPlanes) await dataPlane.process.stop();
  await controlPlane?.process.stop();
  await mock?.process.stop();
  await redis?.stop();
  if (workspace !== undefined) await removePlaneWorkspace(workspace);
  if (runDir !== undefined) await rm(runDir, { recursive: true, force: true });
});

interface Outcome {
  status: number;
  retryAfter: string | null;
  code: string | undefined;
}

/**
 * One chat completion of 100 output tokens (0.10 USD) with `key` on `dataPlane`; a fetch that cannot
 * complete within 15 s fails the test (nothing may hang on a dead Redis).
 */
async function chat(
  dataPlane: LimitsDataPlane,
  key: LimitedKey,
  options: { maxTokens?: number; headers?: Record<string, string> } = {},
): Promise<Outcome> {
  const maxTokens = options.maxTokens ?? 100;
  const response = await fetch(`${dataPlane.url}/v1/chat/completions`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${key.key}`,
      'content-type': 'application/json',
      'x-mock-output-tokens': String(maxTokens),
      ...options.headers,
    },
    body: JSON.stringify({
      model: 'demo-chat',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: maxTokens,
    }),
    signal: AbortSignal.timeout(15_000),
  });
  const body = (await response.json()) as { error?: { code?: string } };
  return { status: response.status, retryAfter: response.headers.get('retry-after'), code: body.error?.code };
}

function budgetOf(key: LimitedKey) {
  return store.getBudget({ partition: TENANT, id: `key:${key.publicId}:total` });
}

function countBy(outcomes: readonly Outcome[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const outcome of outcomes) counts[outcome.status] = (counts[outcome.status] ?? 0) + 1;
  return counts;
}

/** Spent micros once no reservation of the budget is open any more. */
async function settledSpend(key: LimitedKey): Promise<number> {
  const budget = await eventually(
    async () => {
      const snapshot = await budgetOf(key);
      return snapshot !== undefined && snapshot.reservedMicros === 0 ? snapshot : undefined;
    },
    20_000,
    'all reservations settled',
  );
  return budget.spentMicros;
}

describe('budgets hold under concurrency across two data planes sharing Redis', () => {
  it('200 concurrent requests against 1.00 USD at 0.10 each: spend ≤ 1.00, the rest 402', async () => {
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, (_, index) => chat(dataPlanes[index % 2]!, keys.race)),
    );
    const counts = countBy(outcomes);
    expect(Object.keys(counts).sort()).toEqual(['200', '402']);
    const spent = await settledSpend(keys.race);
    // Every request costs exactly its reservation here, so the estimate error is 0.
    expect(spent).toBeLessThanOrEqual(BUDGET_MICROS);
    expect(spent).toBe((counts[200] ?? 0) * REQUEST_MICROS);
    expect(counts[200]).toBe(BUDGET_MICROS / REQUEST_MICROS);
    for (const outcome of outcomes.filter((candidate) => candidate.status === 402)) {
      expect(outcome.code).toBe('budget_exhausted');
    }
  });

  it('50 concurrent first requests of a brand-new key: the same bound', async () => {
    expect(await budgetOf(keys.fresh)).toBeUndefined();
    const outcomes = await Promise.all(
      Array.from({ length: 50 }, (_, index) => chat(dataPlanes[index % 2]!, keys.fresh)),
    );
    const counts = countBy(outcomes);
    expect(Object.keys(counts).sort()).toEqual(['200', '402']);
    const spent = await settledSpend(keys.fresh);
    expect(spent).toBeLessThanOrEqual(BUDGET_MICROS);
    expect(spent).toBe((counts[200] ?? 0) * REQUEST_MICROS);
  });
});

describe('the token bucket holds across two data planes', () => {
  it('2 data planes × 64 connections for 3 s: admissions per 1 s window ≤ rate + burst', async () => {
    const until = Date.now() + 3000;
    const statuses: number[] = [];
    const missingRetryAfter: number[] = [];
    const connection = async (dataPlane: LimitsDataPlane): Promise<void> => {
      while (Date.now() < until) {
        const outcome = await chat(dataPlane, keys.bucket, { maxTokens: 1 });
        statuses.push(outcome.status);
        if (outcome.status === 429 && outcome.retryAfter === null) missingRetryAfter.push(outcome.status);
      }
    };
    await Promise.all(
      dataPlanes.flatMap((dataPlane) => Array.from({ length: 64 }, () => connection(dataPlane))),
    );
    const counts = countBy(statuses.map((status) => ({ status, retryAfter: null, code: undefined })));
    expect(Object.keys(counts).sort()).toEqual(['200', '429']);
    expect(missingRetryAfter).toEqual([]);

    // Decision records: each data plane's `limit decision` debug lines (decision time = Redis TIME), one
    // per request; the last lines may still be in the pipe when the responses are in.
    const records = await eventually(
      async () => {
        const all = dataPlanes.flatMap((dataPlane) => decisionRecords(dataPlane, keys.bucket.publicId));
        return Promise.resolve(all.length === statuses.length ? all : undefined);
      },
      10_000,
      'one decision record per request',
    );
    const admitted = records.filter((record) => record.allowed).map((record) => record.decidedAtMs);
    // All decided by the shared bucket: a store timeout would have admitted against a local share instead.
    expect(records.filter((record) => !record.shared)).toEqual([]);
    expect(admitted.length).toBe(counts[200]);
    const ratePerSecond = BUCKET_RATE_PER_MINUTE / 60;
    expect(maxInWindow(admitted, 1000)).toBeLessThanOrEqual(ratePerSecond + BUCKET_BURST);
    // Both replicas admitted some: the bucket really was shared.
    for (const dataPlane of dataPlanes) {
      expect(decisionRecords(dataPlane, keys.bucket.publicId).some((record) => record.allowed)).toBe(true);
    }
  });
});

describe('a replica killed with reservations open', () => {
  it('blocks admission only until the reservations expire, then budget and slots are reclaimed', async () => {
    const [victim, survivor] = dataPlanes as [LimitsDataPlane, LimitsDataPlane];
    // 500 requests held by the mock for longer than the test waits; each reserves 0.10 of the 50.00 budget.
    const held = Array.from({ length: 500 }, () =>
      chat(victim, keys.orphan, { headers: { 'x-mock-latency-ms': String(DEADLINE_MS - 1000) } }).catch(
        (error: unknown) => error,
      ),
    );
    await eventually(
      async () =>
        metricValue(await scrape(victim.url), 'router_reservations_open') === 500 ? true : undefined,
      20_000,
      '500 reservations open on the victim',
    );
    expect(await budgetOf(keys.orphan)).toMatchObject({
      reservedMicros: 500 * REQUEST_MICROS,
      remainingMicros: 0,
    });
    await victim.process.stop({ signal: 'SIGKILL' });
    await Promise.all(held);

    // Nobody will settle them: the survivor refuses the key while the orphans count …
    expect((await chat(survivor, keys.orphan, { maxTokens: 1 })).status).toBe(402);
    // … and admits it again once they expired (lazily reclaimed by the next admission).
    await eventually(
      async () => ((await chat(survivor, keys.orphan, { maxTokens: 1 })).status === 200 ? true : undefined),
      // The TTL counts from the admissions, before the kill; the slack keeps the case within the test timeout.
      TTL_MS + 10_000,
      'admission after the reservation TTL',
    );
    const budget = await eventually(async () => {
      const snapshot = await budgetOf(keys.orphan);
      return snapshot?.reservedMicros === 0 ? snapshot : undefined;
    });
    // Money of the orphans was never spent: only the survivor's requests were charged.
    expect(budget.spentMicros).toBeLessThan(10 * 1000);
    // Slots too: the expired leases no longer count.
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, () => chat(survivor, keys.orphan, { maxTokens: 1 })),
    );
    expect(countBy(outcomes)).toEqual({ 200: 20 });
  });
});

describe('Redis unavailable: stopped, paused, restarted', () => {
  /** The three policies' outcome classes on the surviving data plane. */
  async function outcomes(): Promise<{ open: number; closed: Outcome; money: Outcome }> {
    const dataPlane = dataPlanes[1]!;
    return {
      open: (await chat(dataPlane, keys.open, { maxTokens: 1 })).status,
      closed: await chat(dataPlane, keys.closed, { maxTokens: 1 }),
      money: await chat(dataPlane, keys.money, { maxTokens: 1 }),
    };
  }

  function expectDegradedOutcomes(result: { open: number; closed: Outcome; money: Outcome }): void {
    // Rate limits failing open: served under the local share. Failing closed: 503. Budgets: 503, never 402.
    expect(result.open).toBe(200);
    expect(result.closed).toMatchObject({ status: 503, code: 'dependency_unavailable' });
    expect(result.money).toMatchObject({ status: 503, code: 'dependency_unavailable' });
  }

  async function expectRecovered(): Promise<void> {
    const dataPlane = dataPlanes[1]!;
    await eventually(
      async () => {
        const detail = (await readiness(dataPlane.url)).detail as unknown as {
          limits: { degraded: boolean };
        };
        return detail.limits.degraded ? undefined : true;
      },
      30_000,
      'degraded mode over',
    );
    const result = await outcomes();
    expect(result).toMatchObject({ open: 200, closed: { status: 200 }, money: { status: 200 } });
    expect(metricValue(await scrape(dataPlane.url), 'router_limits_degraded')).toBe(0);
  }

  it('serves normally while Redis is up', async () => {
    const result = await outcomes();
    expect(result).toMatchObject({ open: 200, closed: { status: 200 }, money: { status: 200 } });
  });

  it('stopped: each policy behaves as configured, visibly, and recovers after a restart', async () => {
    const dataPlane = dataPlanes[1]!;
    await redis.stop();
    expectDegradedOutcomes(await outcomes());
    const { status, detail } = await readiness(dataPlane.url);
    expect(status).toBe(200);
    expect((detail as unknown as { limits: unknown }).limits).toMatchObject({
      store: 'redis',
      degraded: true,
    });
    expect(metricValue(await scrape(dataPlane.url), 'router_limits_degraded')).toBe(1);
    redis = await startRedis({ runDir, port: redisPort });
    await expectRecovered();
  });

  it('paused with kill -STOP: the same outcomes within the store timeout, recovery after SIGCONT', async () => {
    process.kill(redis.pid, 'SIGSTOP');
    try {
      expectDegradedOutcomes(await outcomes());
    } finally {
      process.kill(redis.pid, 'SIGCONT');
    }
    await expectRecovered();
  });

  it('paused with CLIENT PAUSE: the same outcomes, recovery once the pause ends', async () => {
    const pauser = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    pauser.on('error', () => undefined); // Only used for the one command below; a failure shows in that command.
    try {
      await pauser.call('CLIENT', 'PAUSE', '3000', 'ALL');
      expectDegradedOutcomes(await outcomes());
    } finally {
      pauser.disconnect();
    }
    await expectRecovered();
  });
});
