import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuditEventKind } from '@api-router/contracts';
import { RouterError } from '@api-router/errors';
import { createMemoryLimitStore, LimitStoreUnavailableError, type LimitStore } from '@api-router/limits';
import { createMetricsRegistry } from '@api-router/observability';
import type { Principal } from '../auth/principal.js';
import { createAdmissionMetrics, type AdmissionMetrics } from '../metrics/admission-metrics.js';
import type { AuditEventInit } from '../records/audit-recorder.js';
import { systemTimers } from '../timers.js';
import {
  createAdmissionController,
  type AdmissionController,
  type AdmissionInput,
  type StoreDecision,
} from './admission-controller.js';
import { FairQueue } from './fair-queue.js';
import { LimitStoreHealth } from './limit-store-health.js';
import { LIMIT_KEYS, buildLimitsPolicy } from './limits-policy.test-support.js';

const T0 = Date.UTC(2030, 0, 1, 12);
const policy = buildLimitsPolicy({ queueWaitMs: 500 });
const route = policy.routesByModel.get('demo-chat')!;
const messages = [{ role: 'user', content: 'hi' }];

afterEach(() => {
  vi.useRealTimers();
});

/** A store that fails every call like an unreachable Redis (and counts the calls). */
function unreachableStore(): LimitStore & { calls: number } {
  const fail = (operation: string) => {
    store.calls += 1;
    return Promise.reject(new LimitStoreUnavailableError(operation, 'timeout'));
  };
  const store = {
    calls: 0,
    admit: () => fail('admit'),
    settle: () => fail('settle'),
    release: () => fail('release'),
    getBudget: () => fail('getBudget'),
    topUpBudget: () => fail('topUpBudget'),
    resetBudget: () => fail('resetBudget'),
    setBudgetLimit: () => fail('setBudgetLimit'),
  } as unknown as LimitStore & { calls: number };
  return store;
}

interface Setup {
  controller: AdmissionController;
  store: LimitStore;
  audits: AuditEventInit[];
  metrics: AdmissionMetrics;
  health: LimitStoreHealth;
  metricsText: () => Promise<string>;
  probe: { up: boolean };
}

function setup(options: { store?: LimitStore } = {}): Setup {
  const clock = { now: () => Date.now() };
  const store = options.store ?? createMemoryLimitStore({ clock });
  const registry = createMetricsRegistry({ defaultLabels: {} });
  const queue = new FairQueue<StoreDecision>({
    timers: systemTimers,
    now: () => Date.now(),
    random: () => 0,
    retryIntervalMs: { min: 50, max: 50 },
    maxLength: 100,
  });
  const metrics = createAdmissionMetrics(registry, () => queue.length);
  const probe = { up: false };
  const logger = { warn: vi.fn(), info: vi.fn() };
  const health = new LimitStoreHealth({
    kind: 'redis',
    clock,
    timers: systemTimers,
    logger,
    probe: () => (probe.up ? Promise.resolve() : Promise.reject(new Error('down'))),
    probeIntervalMs: 1000,
    onChange: (degraded) => metrics.degraded.set(degraded ? 1 : 0),
  });
  const audits: AuditEventInit[] = [];
  let sequence = 0;
  const controller = createAdmissionController({
    store,
    localStore: createMemoryLimitStore({ clock }),
    health,
    queue,
    metrics,
    audit: {
      record: (event) => {
        audits.push(event);
        return Promise.resolve();
      },
    },
    timers: systemTimers,
    now: () => Date.now(),
    randomId: () => String((sequence += 1)),
    logger,
    settleRetryDelaysMs: [],
  });
  return { controller, store, audits, metrics, health, probe, metricsText: () => registry.metrics() };
}

function principal(keyId: string, tenantId = 'acme'): Principal {
  return { keyId, tenantId, allowedModels: ['*'], scheme: 'api_key' };
}

function input(
  keyId: string,
  overrides: Partial<AdmissionInput> = {},
): AdmissionInput & { headers: Record<string, string> } {
  const headers: Record<string, string> = {};
  return {
    requestId: `req-${keyId}`,
    principal: principal(keyId, keyId === LIMIT_KEYS.tenantBudget ? 'money' : 'acme'),
    policy,
    route,
    cost: { model: 'demo-chat', messages, maxOutputTokens: 10 },
    signal: new AbortController().signal,
    remainingMs: () => 10_000,
    headers,
    onHeaders: (received) => {
      Object.assign(headers, received);
    },
    log: { debug: () => undefined, level: 'info' },
    ...overrides,
  };
}

async function rejection(promise: Promise<unknown>): Promise<RouterError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  if (!(error instanceof RouterError)) throw new Error(`expected a RouterError, got ${String(error)}`);
  return error;
}

describe('admission decisions', () => {
  it('admits a key without limits without touching the store', async () => {
    const store = unreachableStore();
    const { controller } = setup({ store });
    const admission = await controller.admit(input(LIMIT_KEYS.free));
    expect(admission.headers).toEqual({});
    admission.finish({ responded: false });
    expect(store.calls).toBe(0);
  });

  it('answers a rate denial with 429, Retry-After, headers and one RATE_LIMITED audit event', async () => {
    vi.useFakeTimers({ now: T0 });
    const { controller, audits, metricsText } = setup();
    const first = input(LIMIT_KEYS.rate);
    const admission = await controller.admit(first);
    expect(first.headers).toMatchObject({
      'x-ratelimit-limit-requests': '60',
      'x-ratelimit-remaining-requests': '1',
    });
    await controller.admit(input(LIMIT_KEYS.rate));
    const third = input(LIMIT_KEYS.rate);
    const error = await rejection(controller.admit(third));
    expect(error.status).toBe(429);
    expect(error.retryAfterSeconds).toBe(1);
    expect(third.headers).toMatchObject({
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': '2s',
    });
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({
      kind: AuditEventKind.RATE_LIMITED,
      requestId: `req-${LIMIT_KEYS.rate}`,
      tenantId: 'acme',
      keyPublicId: LIMIT_KEYS.rate,
      reasonCode: `key:${LIMIT_KEYS.rate}`,
      attributes: {
        decision: 'denied',
        status: '429',
        limit: '60',
        remaining: '0',
        retry_after_seconds: '1',
      },
    });
    expect(audits[0]?.attributes?.admission_id).toMatch(/^req-rk_rate01~\d+$/);
    expect(await metricsText()).toContain('router_limit_decisions_total{kind="requests",outcome="denied"} 1');
    admission.finish({ responded: false });
  });

  it('answers a budget denial with 402 and the budget’s numbers; settlement frees what was not used', async () => {
    vi.useFakeTimers({ now: T0 });
    const { controller, audits, store, metricsText } = setup();
    const ref = { partition: 'acme', id: `key:${LIMIT_KEYS.budget}:total` };
    // Reservation: 8 input tokens (estimate) + 10 output tokens × 2 = 28 micros; the budget is 100.
    const admissions = [];
    for (let index = 0; index < 3; index += 1)
      admissions.push(await controller.admit(input(LIMIT_KEYS.budget)));
    expect(await store.getBudget(ref)).toMatchObject({ reservedMicros: 84, spentMicros: 0 });
    const error = await rejection(controller.admit(input(LIMIT_KEYS.budget)));
    expect(error.status).toBe(402);
    expect(error.details).toMatchObject({
      budget: ref.id,
      remaining_micros: 16,
      limit_micros: 100,
      resets_at: null,
    });
    expect(audits.map((event) => event.kind)).toEqual([AuditEventKind.BUDGET_DENIED]);
    expect(audits[0]?.attributes).toMatchObject({ status: '402', limit_kind: 'budget', remaining: '16' });

    admissions[0]!.finish({
      responded: true,
      backendId: 'mock-a',
      usage: { inputTokens: 1, outputTokens: 10 },
    });
    admissions[1]!.finish({ responded: false });
    admissions[1]!.finish({
      responded: true,
      backendId: 'mock-a',
      usage: { inputTokens: 1, outputTokens: 10 },
    });
    admissions[2]!.finish({ responded: true, backendId: 'mock-a', usage: undefined });
    await controller.close();
    // 21 (real) + 0 (released) + 28 (no usage reported: the reservation is charged).
    expect(await store.getBudget(ref)).toMatchObject({ reservedMicros: 0, spentMicros: 49 });
    const text = await metricsText();
    expect(text).toContain('router_reservations_open 0');
    expect(text).toContain('router_settlements_total{operation="settle",outcome="settled"} 2');
    expect(text).toContain('router_settlements_total{operation="release",outcome="released"} 1');
    expect(text).toContain('router_settlement_drift_micros_sum 7');
  });

  it('answers a concurrency denial without a queue policy with 429 at once', async () => {
    const { controller, audits } = setup();
    const held = await controller.admit(input(LIMIT_KEYS.concNoQueue));
    const error = await rejection(controller.admit(input(LIMIT_KEYS.concNoQueue)));
    expect(error.status).toBe(429);
    expect(error.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(audits[0]).toMatchObject({
      kind: AuditEventKind.RATE_LIMITED,
      attributes: { limit_kind: 'concurrency' },
    });
    held.finish({ responded: false });
    await controller.close();
  });

  it('bounds the output of a request that sets none when tokens or money are charged', async () => {
    const { controller } = setup();
    const capped = await controller.admit(
      input(LIMIT_KEYS.tenantBudget, { cost: { model: 'demo-chat', messages, maxOutputTokens: undefined } }),
    );
    expect(capped.outputCap).toBe(50);
    const uncapped = await controller.admit(
      input(LIMIT_KEYS.rate, { cost: { model: 'demo-chat', messages, maxOutputTokens: undefined } }),
    );
    expect(uncapped.outputCap).toBeUndefined();
    capped.finish({ responded: false });
    uncapped.finish({ responded: false });
    await controller.close();
  });
});

describe('the fair queue in admission', () => {
  it('queues a concurrency denial and admits it when the slot frees, audited QUEUED then QUEUE_ADMITTED', async () => {
    vi.useFakeTimers({ now: T0 });
    const { controller, audits, metricsText } = setup();
    const held = await controller.admit(input(LIMIT_KEYS.conc));
    const waiting = controller.admit(input(LIMIT_KEYS.conc, { requestId: 'req-queued' }));
    await vi.advanceTimersByTimeAsync(30);
    expect(audits.map((event) => event.kind)).toEqual([AuditEventKind.QUEUED]);
    expect(await metricsText()).toContain('router_queue_length 1');
    held.finish({ responded: false });
    const admitted = await waiting;
    expect(admitted.queueMs).toBe(30);
    expect(audits.map((event) => event.kind)).toEqual([AuditEventKind.QUEUED, AuditEventKind.QUEUE_ADMITTED]);
    expect(audits[1]).toMatchObject({ requestId: 'req-queued', attributes: { waited_ms: '30' } });
    admitted.finish({ responded: false });
    await controller.close();
    expect(await metricsText()).toContain(
      'router_limit_decisions_total{kind="concurrency",outcome="queue_admitted"} 1',
    );
  });

  it('answers 429 with Retry-After after the max wait, audited QUEUE_TIMED_OUT', async () => {
    vi.useFakeTimers({ now: T0 });
    const { controller, audits } = setup();
    const held = await controller.admit(input(LIMIT_KEYS.conc));
    const waiting = rejection(controller.admit(input(LIMIT_KEYS.conc)));
    await vi.advanceTimersByTimeAsync(500);
    const error = await waiting;
    expect(error.status).toBe(429);
    expect(error.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(audits.map((event) => event.kind)).toEqual([
      AuditEventKind.QUEUED,
      AuditEventKind.QUEUE_TIMED_OUT,
    ]);
    held.finish({ responded: false });
    await controller.close();
  });

  it('answers 429 at once when the key’s queue is full', async () => {
    vi.useFakeTimers({ now: T0 });
    const { controller, audits } = setup();
    const held = await controller.admit(input(LIMIT_KEYS.conc));
    const waits = [controller.admit(input(LIMIT_KEYS.conc)), controller.admit(input(LIMIT_KEYS.conc))];
    await vi.advanceTimersByTimeAsync(0);
    const error = await rejection(controller.admit(input(LIMIT_KEYS.conc)));
    expect(error.status).toBe(429);
    expect(audits.at(-1)).toMatchObject({
      kind: AuditEventKind.RATE_LIMITED,
      attributes: { queue_full: 'key' },
    });
    held.finish({ responded: false });
    for (const admission of await Promise.all(waits.slice(0, 1))) admission.finish({ responded: false });
    const second = await waits[1]!;
    second.finish({ responded: false });
    await controller.close();
  });

  it('leaves the queue with the signal’s reason when the client disconnects', async () => {
    vi.useFakeTimers({ now: T0 });
    const { controller } = setup();
    const held = await controller.admit(input(LIMIT_KEYS.conc));
    const disconnect = new AbortController();
    const waiting = controller.admit(input(LIMIT_KEYS.conc, { signal: disconnect.signal })).then(
      () => 'admitted',
      (reason: unknown) => reason,
    );
    await vi.advanceTimersByTimeAsync(10);
    const reason = new Error('client closed');
    disconnect.abort(reason);
    expect(await waiting).toBe(reason);
    held.finish({ responded: false });
    await controller.close();
  });
});

describe('store failure', () => {
  it('fails rate limits open to the local share, visibly, and recovers by itself', async () => {
    vi.useFakeTimers({ now: T0 });
    const store = unreachableStore();
    const { controller, health, probe, metricsText } = setup({ store });
    // Burst 4, local share 0.5 → 2 admitted on this replica alone.
    await controller.admit(input(LIMIT_KEYS.open));
    expect(health.detail()).toMatchObject({ degraded: true });
    expect(await metricsText()).toContain('router_limits_degraded 1');
    await controller.admit(input(LIMIT_KEYS.open));
    const error = await rejection(controller.admit(input(LIMIT_KEYS.open)));
    expect(error.status).toBe(429);
    // Degraded: the shared store is not asked again for each request.
    expect(store.calls).toBe(1);
    probe.up = true;
    await vi.advanceTimersByTimeAsync(1000);
    expect(health.degraded).toBe(false);
    expect(await metricsText()).toContain('router_limits_degraded 0');
    await rejection(controller.admit(input(LIMIT_KEYS.open)));
    expect(store.calls).toBe(2);
    await controller.close();
  });

  it('answers 503 (never 402 or 429) for limits that fail closed and for budgets', async () => {
    const { controller, audits, metricsText } = setup({ store: unreachableStore() });
    for (const key of [LIMIT_KEYS.closed, LIMIT_KEYS.budget, LIMIT_KEYS.tenantBudget]) {
      const error = await rejection(controller.admit(input(key)));
      expect(error.status).toBe(503);
      expect(error.code).toBe('dependency_unavailable');
    }
    expect(audits).toEqual([]);
    expect(await metricsText()).toContain(
      'router_limit_decisions_total{kind="store",outcome="fail_closed"} 3',
    );
    await controller.close();
  });
});
