import { createServer, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DuplicateRequestError,
  LimitStoreUnavailableError,
  createRedisLimitStore,
  type LimitCheck,
  type LimitStore,
} from '../src/index.js';
import { GC_GRACE_MS, RECORD_GC_GRACE_MS } from '../src/redis/lua-library.js';
import { createRedisFixture, type RedisFixture } from './redis-fixture.js';

const T0 = Date.UTC(2025, 5, 15, 12);

let fixture: RedisFixture;
beforeEach(() => {
  fixture = createRedisFixture('store');
});
afterEach(async () => {
  await fixture.cleanup();
});

function storeAt(clock?: { now(): number }): LimitStore {
  return createRedisLimitStore({
    redis: fixture.connect(),
    keyPrefix: fixture.keyPrefix,
    commandTimeoutMs: 10_000,
    clock,
  });
}

describe('Redis store', () => {
  it('reclaims 500 orphaned reservations after their TTL, so admission works again', async () => {
    let nowMs = T0;
    const store = storeAt({ now: () => nowMs });
    const budget: LimitCheck = { kind: 'budget', id: 'wallet', limitMicros: 50_000_000, period: 'total' };
    const slots: LimitCheck = { kind: 'concurrency', id: 'slots', max: 500 };
    const admit = (requestId: string): ReturnType<LimitStore['admit']> =>
      store.admit({
        requestId,
        plan: { partition: 'tenant-a', checks: [budget, slots] },
        costs: { tokens: 0, costMicros: 100_000 },
        reservationTtlMs: 30_000,
      });
    const orphans = await Promise.all(
      Array.from({ length: 500 }, (_, index) => admit(`orphan-${String(index)}`)),
    );
    expect(orphans.every((decision) => decision.allowed)).toBe(true);
    expect(await admit('one-too-many')).toMatchObject({
      allowed: false,
      deniedBy: { kind: 'budget', id: 'wallet' },
    });

    nowMs += 30_000;
    const next = await admit('after-ttl');
    expect(next.allowed).toBe(true);
    expect(await store.getBudget({ partition: 'tenant-a', id: 'wallet' })).toMatchObject({
      reservedMicros: 100_000,
      spentMicros: 0,
    });
  });

  it('uses Redis TIME when no clock is given', async () => {
    const store = storeAt();
    const [seconds] = await fixture.connect().time();
    const decision = await store.admit({
      requestId: 'timed',
      plan: { partition: 'tenant-a', checks: [{ kind: 'requests', id: 'rpm', ratePerMinute: 60, burst: 1 }] },
      costs: { tokens: 0, costMicros: 0 },
      reservationTtlMs: 1000,
    });
    // Redis's own clock, to the second it was read before (not the test process's clock).
    expect(Math.floor(decision.decidedAtMs / 1000)).toBeGreaterThanOrEqual(Number(seconds));
    expect(decision.allowed).toBe(true);
  });

  it('lets a request record outlive its retention by RECORD_GC_GRACE_MS only, on Redis TIME', async () => {
    // One record per request: with the two-day GC_GRACE_MS of the shared keys, every request would stay in
    // Redis for two days.
    const retentionMs = 600_000;
    const store = createRedisLimitStore({
      redis: fixture.connect(),
      keyPrefix: fixture.keyPrefix,
      commandTimeoutMs: 10_000,
      recordRetentionMs: retentionMs,
    });
    const plan = { partition: 'tenant-a', checks: [{ kind: 'concurrency', id: 'slots', max: 5 } as const] };
    const reservationTtlMs = 120_000;
    const decision = await store.admit({
      requestId: 'kept',
      plan,
      costs: { tokens: 0, costMicros: 0 },
      reservationTtlMs,
    });
    if (!decision.allowed) throw new Error('not admitted');
    const admin = fixture.connect();
    const recordKey = `${fixture.keyPrefix}{tenant-a}:r:kept`;
    const admitted = await admin.pttl(recordKey);
    expect(admitted).toBeGreaterThan(reservationTtlMs + retentionMs);
    expect(admitted).toBeLessThanOrEqual(reservationTtlMs + retentionMs + RECORD_GC_GRACE_MS);
    // Shared keys keep the long grace (a short lease must not drop a longer one in the same set).
    expect(await admin.pttl(`${fixture.keyPrefix}{tenant-a}:c:slots`)).toBeGreaterThan(GC_GRACE_MS);

    expect(await store.settle(decision.reservation, { tokens: 0, costMicros: 0 })).toMatchObject({
      status: 'settled',
    });
    const settled = await admin.pttl(recordKey);
    expect(settled).toBeGreaterThan(retentionMs);
    expect(settled).toBeLessThanOrEqual(retentionMs + RECORD_GC_GRACE_MS);
  });

  it('rejects a reused request id with DuplicateRequestError', async () => {
    const store = storeAt({ now: () => T0 });
    const request = {
      requestId: 'same',
      plan: { partition: 'tenant-a', checks: [] },
      costs: { tokens: 0, costMicros: 0 },
      reservationTtlMs: 1000,
    };
    expect((await store.admit(request)).allowed).toBe(true);
    await expect(store.admit(request)).rejects.toBeInstanceOf(DuplicateRequestError);
  });

  it('keeps every key of an admission in one Redis Cluster slot (the partition hash tag)', async () => {
    const store = storeAt({ now: () => T0 });
    const checks: LimitCheck[] = [
      { kind: 'requests', id: 'rpm', ratePerMinute: 60, burst: 5 },
      { kind: 'tokens', id: 'tpm', tokensPerMinute: 600, burst: 500 },
      { kind: 'concurrency', id: 'slots', max: 5 },
      { kind: 'budget', id: 'wallet', limitMicros: 1000, period: 'month' },
    ];
    await store.admit({
      requestId: 'r',
      plan: { partition: 'tenant-b', checks },
      costs: { tokens: 5, costMicros: 5 },
      reservationTtlMs: 1000,
    });
    const admin = fixture.connect();
    const keys = await admin.keys(`${fixture.keyPrefix}*`);
    expect(keys.length).toBe(7); // clock, record, rpm, tpm, slots, wallet hash, wallet reservations
    // Redis Cluster hashes only the first {...} of a key: the prefix has none, so every key hashes "tenant-b".
    expect(keys.every((key) => key.startsWith(`${fixture.keyPrefix}{tenant-b}:`))).toBe(true);
  });
});

describe('Redis store script and plan caching', () => {
  const slots: LimitCheck = { kind: 'concurrency', id: 'slots', max: 1 };
  const request = (requestId: string, partition: string, checks: readonly LimitCheck[]) => ({
    requestId,
    plan: { partition, checks },
    costs: { tokens: 10, costMicros: 10 },
    reservationTtlMs: 60_000,
  });

  it('runs its scripts again after Redis forgot them (SCRIPT FLUSH, as after a restart)', async () => {
    const store = storeAt({ now: () => T0 });
    const checks: LimitCheck[] = [
      { kind: 'tokens', id: 'tpm', tokensPerMinute: 600, burst: 500 },
      slots,
      { kind: 'budget', id: 'wallet', limitMicros: 1000, period: 'month' },
    ];
    const first = await store.admit(request('first', 'tenant-a', checks));
    if (!first.allowed) throw new Error('first admission denied');
    await fixture.connect().script('FLUSH');
    expect(await store.settle(first.reservation, { tokens: 4, costMicros: 7 })).toEqual({
      status: 'settled',
      reservationExpired: false,
    });
    await fixture.connect().script('FLUSH');
    expect((await store.admit(request('second', 'tenant-a', checks))).allowed).toBe(true);
    expect(await store.getBudget({ partition: 'tenant-a', id: 'wallet' })).toMatchObject({
      spentMicros: 7,
      reservedMicros: 10,
    });
  });

  it('encodes one checks array per partition: each partition has its own keys', async () => {
    const store = storeAt({ now: () => T0 });
    const checks: LimitCheck[] = [slots];
    expect((await store.admit(request('a1', 'tenant-a', checks))).allowed).toBe(true);
    expect((await store.admit(request('b1', 'tenant-b', checks))).allowed).toBe(true);
    const denied = await store.admit(request('a2', 'tenant-a', checks));
    expect(denied).toMatchObject({ allowed: false, deniedBy: { kind: 'concurrency', id: 'slots' } });
  });

  it('releases through the reservation alone: only the token, slot and budget keys are touched', async () => {
    const store = storeAt({ now: () => T0 });
    const checks: LimitCheck[] = [
      { kind: 'requests', id: 'rpm', ratePerMinute: 60, burst: 2 },
      { kind: 'tokens', id: 'tpm', tokensPerMinute: 600, burst: 20 },
      slots,
    ];
    const first = await store.admit(request('r1', 'tenant-a', checks));
    if (!first.allowed) throw new Error('first admission denied');
    // A copy of the checks (another array): settlement does not depend on the admission's cached encoding.
    const copy = { ...first.reservation, checks: checks.map((check) => ({ ...check })) };
    expect(await store.release(copy)).toEqual({ status: 'released', reservationExpired: false });
    const second = await store.admit(request('r2', 'tenant-a', checks));
    // Tokens and the slot came back; the request unit did not (burst 2: one left).
    expect(second.checks).toEqual([
      expect.objectContaining({ kind: 'requests', allowed: true, remaining: 0 }),
      expect.objectContaining({ kind: 'tokens', allowed: true, remaining: 10 }),
      expect.objectContaining({ kind: 'concurrency', allowed: true, remaining: 0 }),
    ]);
  });

  it('answers calls made before the client is ready and many calls sent in one event loop turn', async () => {
    // A client still connecting: the first calls wait in ioredis's offline queue.
    const store = storeAt({ now: () => T0 });
    const checks: LimitCheck[] = [
      { kind: 'concurrency', id: 'slots', max: 10 },
      { kind: 'budget', id: 'wallet', limitMicros: 1_000_000, period: 'total' },
    ];
    const early = await Promise.all(
      Array.from({ length: 30 }, (_, index) =>
        store.admit(request(`early-${String(index)}`, 'tenant-a', checks)),
      ),
    );
    expect(early.filter((decision) => decision.allowed)).toHaveLength(10);
    // Ready now: 10 settlements and 30 admissions in one turn (one corked socket write).
    const settled = early.flatMap((decision) =>
      decision.allowed ? [store.settle(decision.reservation, { tokens: 1, costMicros: 3 })] : [],
    );
    const late = Array.from({ length: 30 }, (_, index) =>
      store.admit(request(`late-${String(index)}`, 'tenant-a', checks)),
    );
    expect((await Promise.all(settled)).every((outcome) => outcome.status === 'settled')).toBe(true);
    expect((await Promise.all(late)).filter((decision) => decision.allowed)).toHaveLength(10);
    expect(await store.getBudget({ partition: 'tenant-a', id: 'wallet' })).toMatchObject({
      spentMicros: 30,
      reservedMicros: 100,
    });
  });

  it('rejects an invalid plan before any call, every time (an invalid plan is never cached)', async () => {
    const store = storeAt({ now: () => T0 });
    const twice: LimitCheck[] = [slots, { ...slots }];
    await expect(store.admit(request('x1', 'tenant-a', twice))).rejects.toBeInstanceOf(RangeError);
    await expect(store.admit(request('x2', 'tenant-a', twice))).rejects.toBeInstanceOf(RangeError);
    await expect(store.admit(request('x3', 'ten{ant', [slots]))).rejects.toBeInstanceOf(RangeError);
    const admin = fixture.connect();
    expect(await admin.keys(`${fixture.keyPrefix}*`)).toEqual([]);
  });
});

describe('Redis store when Redis does not answer', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  function storeOn(redis: Redis): LimitStore {
    // A failing connection emits 'error' events; the store reports failures through its own rejections.
    redis.on('error', () => undefined);
    cleanups.push(() => redis.disconnect());
    return createRedisLimitStore({ redis, keyPrefix: 'unreachable:', commandTimeoutMs: 200 });
  }

  const admitOnce = (store: LimitStore): ReturnType<LimitStore['admit']> =>
    store.admit({
      requestId: 'r',
      plan: {
        partition: 'tenant-a',
        checks: [{ kind: 'budget', id: 'wallet', limitMicros: 1, period: 'day' }],
      },
      costs: { tokens: 0, costMicros: 1 },
      reservationTtlMs: 1000,
    });

  it('times out with LimitStoreUnavailableError against a server that accepts but never replies', async () => {
    const sockets = new Set<Socket>();
    const server: Server = createServer((socket) => {
      sockets.add(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy();
          server.close(() => resolve());
        }),
    );
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    const store = storeOn(new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: null }));
    const failure = await admitOnce(store).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(LimitStoreUnavailableError);
    expect(failure).toMatchObject({ operation: 'admit', failure: 'timeout' });
    await expect(store.getBudget({ partition: 'tenant-a', id: 'wallet' })).rejects.toMatchObject({
      failure: 'timeout',
    });
  });

  it('fails fast with a connection failure when the client will not queue commands', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const redis = new Redis({ host: '127.0.0.1', port, enableOfflineQueue: false, lazyConnect: true });
    const store = storeOn(redis);
    await expect(admitOnce(store)).rejects.toMatchObject({
      name: 'LimitStoreUnavailableError',
      failure: 'connection',
    });
  });
});
