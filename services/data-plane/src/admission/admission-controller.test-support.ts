// Builds an admission controller over memory stores (or a fake unreachable store) with an in-memory audit
// recorder, for the admission controller's unit tests. Excluded from the build.
import { vi } from 'vitest';
import { RouterError } from '@api-router/errors';
import { createMemoryLimitStore, LimitStoreUnavailableError, type LimitStore } from '@api-router/limits';
import { createMetricsRegistry } from '@api-router/observability';
import type { Principal } from '../auth/principal.js';
import { createAdmissionMetrics, type AdmissionMetrics } from '../metrics/admission-metrics.js';
import type { AuditEventInit } from '../records/audit-recorder.js';
import { delay, systemTimers } from '../timers.js';
import {
  createAdmissionController,
  type AdmissionController,
  type AdmissionInput,
  type StoreDecision,
} from './admission-controller.js';
import { FairQueue } from './fair-queue.js';
import { LimitStoreHealth } from './limit-store-health.js';
import { LIMIT_KEYS, buildLimitsPolicy } from './limits-policy.test-support.js';

export const T0 = Date.UTC(2030, 0, 1, 12);
const policy = buildLimitsPolicy({ queueWaitMs: 500 });
const route = policy.routesByModel.get('demo-chat')!;
export const messages = [{ role: 'user', content: 'hi' }];

/** A store that fails every call like an unreachable Redis (and counts the calls). */
export function unreachableStore(): LimitStore & { calls: number } {
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
  } as unknown as LimitStore & { calls: number };
  return store;
}

export interface Setup {
  controller: AdmissionController;
  store: LimitStore;
  audits: AuditEventInit[];
  metrics: AdmissionMetrics;
  health: LimitStoreHealth;
  metricsText: () => Promise<string>;
  probe: { up: boolean };
}

/**
 * `auditDelayMs`: each audit append resolves that long after it is made (on the timers, fake or not).
 * `settleRetryDelaysMs`: the waits before retries of a failed settle/release (default none).
 */
export function setup(
  options: { store?: LimitStore; auditDelayMs?: number; settleRetryDelaysMs?: readonly number[] } = {},
): Setup {
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
        const delayMs = options.auditDelayMs ?? 0;
        return delayMs === 0 ? Promise.resolve() : delay(systemTimers, delayMs);
      },
    },
    timers: systemTimers,
    now: () => Date.now(),
    randomId: () => String((sequence += 1)),
    logger,
    settleRetryDelaysMs: options.settleRetryDelaysMs ?? [],
  });
  return { controller, store, audits, metrics, health, probe, metricsText: () => registry.metrics() };
}

function principal(keyId: string, tenantId = 'acme'): Principal {
  return { keyId, tenantId, allowedModels: ['*'], scheme: 'api_key' };
}

export function input(
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

export async function rejection(promise: Promise<unknown>): Promise<RouterError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  if (!(error instanceof RouterError)) throw new Error(`expected a RouterError, got ${String(error)}`);
  return error;
}
