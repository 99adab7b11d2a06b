import { afterEach } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import {
  ConnectError,
  createClient,
  createRouterTransport,
  type Client,
  type Code,
} from '@connectrpc/connect';
import {
  AdminService,
  AuditEventKind,
  BudgetPeriod,
  PolicySnapshotSchema,
  type AuditEvent,
} from '@api-router/contracts';
import {
  createMemoryLimitStore,
  LimitStoreUnavailableError,
  type BudgetChangeStore,
  type LimitStore,
} from '@api-router/limits';
import { createLogger, createMetricsRegistry } from '@api-router/observability';
import type { AdminTokenConfig } from '@api-router/policy';
import type { Registry } from 'prom-client';
import { createAdminAuthInterceptor } from '../admin-auth-interceptor.js';
import type { AdminChangeLog } from '../audit/admin-change-log.js';
import type { AuditStore } from '../audit/audit-store.js';
import { openSqliteAuditStore } from '../audit/sqlite-audit-store.js';
import { createErrorInterceptor } from '../error-interceptor.js';
import { createBudgetAdminHandlers, type BudgetStore } from './budget-admin-handlers.js';
import { BudgetChangeReconciler } from './budget-change-reconciler.js';
import { DEFAULT_BUDGET_CHANGE_SETTINGS, type BudgetChangeSettings } from './budget-change-settings.js';
import { createBudgetReconcileMetrics, type BudgetReconcileMetrics } from './budget-reconcile-metrics.js';

export const logger = createLogger({ service: 'test', level: 'silent' });
export const NOW_MS = Date.UTC(2025, 5, 10, 12, 0, 0);
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
const TOKENS: AdminTokenConfig[] = [
  { id: 'watcher', sha256: sha256('viewer-secret'), role: 'viewer' },
  { id: 'ops-alice', sha256: sha256('operator-secret'), role: 'operator' },
];
const as = (token: string, headers: Record<string, string> = {}) => ({
  headers: { authorization: `Bearer ${token}`, ...headers },
});
export const viewer = as('viewer-secret');
export const operator = as('operator-secret');
/** An operator call sending `Idempotency-Key: key`. */
export const operatorWithKey = (key: string) => as('operator-secret', { 'idempotency-key': key });

const daily = (limitMicros: bigint) => ({
  budgets: [{ id: 'daily', limitMicros, period: BudgetPeriod.DAY }],
});
export const snapshot = create(PolicySnapshotSchema, {
  version: 3n,
  tenants: [{ id: 'acme', limits: daily(5_000_000n) }, { id: 'other' }],
  apiKeys: [{ publicId: 'rk_demo01', tenantId: 'acme', limits: daily(1_000_000n) }],
});
export const ref = { tenantId: 'acme', budgetId: 'tenant:acme:daily' };
export const storeRef = { partition: 'acme', id: 'tenant:acme:daily' };

/** Settings of the harness: a grace of 60 s and a 1-day change id retention (decidable for 12 h). */
export const SETTINGS: BudgetChangeSettings = {
  ...DEFAULT_BUDGET_CHANGE_SETTINGS,
  changeRetentionMs: 86_400_000,
  graceMs: 60_000,
  maxChangesPerPass: 100,
};

export interface HarnessOptions {
  /** The limit store (the data planes' view); default a memory store on the harness clock. */
  limits?: LimitStore & BudgetChangeStore;
  /** The audit store; default SQLite in a temp dir. Closed with the harness. */
  audit?: () => Promise<AuditStore & AdminChangeLog>;
  /** The store the handlers use, built over `limits`; 'none' for embedded mode. */
  store?: (limits: LimitStore & BudgetChangeStore) => BudgetStore | 'none';
}

/** Switches that make the audit store fail (the whole call rejects), settable during a test. */
export interface AuditFaults {
  intent: boolean;
  outcome: boolean;
}

export interface BudgetHarness extends AsyncDisposable {
  admin: Client<typeof AdminService>;
  /** The memory limit store behind the handlers (the data planes' view). */
  limits: LimitStore & BudgetChangeStore;
  /** The real SQLite audit store (without faults). */
  audit: AuditStore & AdminChangeLog;
  faults: AuditFaults;
  clock: { now(): number; advance(ms: number): void };
  registry: Registry;
  metrics: BudgetReconcileMetrics;
  /**
   * A reconciler over the harness's stores, or over `stores` (another control plane's connections to the
   * same databases).
   */
  reconciler(
    settings?: Partial<BudgetChangeSettings>,
    stores?: { changeLog?: AdminChangeLog; store?: BudgetChangeStore },
  ): BudgetChangeReconciler;
  /** Every ADMIN_CHANGE event stored, oldest first (event ids are numbered in order). */
  events(): Promise<AuditEvent[]>;
}

/**
 * Budget admin handlers in memory (router transport, real auth and error interceptors) over a memory limit
 * store and a real SQLite audit store in a temp dir. Event ids are `evt-001`, `evt-002`, … in creation order.
 */
export async function budgetHarness(options: HarnessOptions = {}): Promise<BudgetHarness> {
  const directory = await mkdtemp(join(tmpdir(), 'budget-admin-'));
  const audit = await (options.audit?.() ?? openSqliteAuditStore({ path: join(directory, 'audit.sqlite') }));
  let nowMs = NOW_MS;
  const clock = { now: () => nowMs, advance: (ms: number) => (nowMs += ms) };
  const limits =
    options.limits ?? createMemoryLimitStore({ clock, budgetChangeRetentionMs: SETTINGS.changeRetentionMs });
  const faults: AuditFaults = { intent: false, outcome: false };
  const faulty: Pick<AdminChangeLog, 'recordIntent' | 'recordOutcome' | 'findChange'> = {
    recordIntent: (...args) =>
      faults.intent ? Promise.reject(new Error('disk full')) : audit.recordIntent(...args),
    recordOutcome: (...args) =>
      faults.outcome ? Promise.reject(new Error('disk full')) : audit.recordOutcome(...args),
    findChange: (changeId) => audit.findChange(changeId),
  };
  let ids = 0;
  const newEventId = () => `evt-${String((ids += 1)).padStart(3, '0')}`;
  const store = options.store?.(limits) ?? limits;
  const handlers = createBudgetAdminHandlers({
    store: store === 'none' ? undefined : store,
    policy: () => snapshot,
    changeLog: faulty,
    clock,
    logger,
    newEventId,
    settings: SETTINGS,
  });
  const transport = createRouterTransport((router) => {
    router.service(AdminService, handlers, {
      interceptors: [
        createErrorInterceptor(logger),
        createAdminAuthInterceptor({ tokens: () => TOKENS, logger }),
      ],
    });
  });
  const registry = createMetricsRegistry({ defaultLabels: {} });
  const metrics = createBudgetReconcileMetrics(registry);
  return {
    admin: createClient(AdminService, transport),
    limits,
    audit,
    faults,
    clock,
    registry,
    metrics,
    reconciler: (settings = {}, stores = {}) =>
      new BudgetChangeReconciler({
        changeLog: stores.changeLog ?? audit,
        store: stores.store ?? limits,
        clock,
        logger,
        metrics,
        settings: { ...SETTINGS, ...settings },
        newEventId,
      }),
    async events() {
      const page = await audit.list({ kind: AuditEventKind.ADMIN_CHANGE }, { limit: 1000 });
      return page.events.sort((left, right) => left.eventId.localeCompare(right.eventId));
    },
    async [Symbol.asyncDispose]() {
      await audit.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** The Connect code a call failed with, or 'ok'. */
export async function codeOf(call: Promise<unknown>): Promise<Code | 'ok'> {
  return (await errorOf(call))?.code ?? 'ok';
}

/** The error a call failed with, or undefined. */
export async function errorOf(call: Promise<unknown>): Promise<ConnectError | undefined> {
  try {
    await call;
    return undefined;
  } catch (error: unknown) {
    return ConnectError.from(error);
  }
}

/** What a data plane does: an admission under the policy's plan reserves, a settlement spends. */
export async function spend(limits: LimitStore, costMicros: number): Promise<void> {
  const decision = await limits.admit({
    requestId: `req-${costMicros}`,
    plan: {
      partition: 'acme',
      checks: [{ kind: 'budget', id: 'tenant:acme:daily', limitMicros: 5_000_000, period: 'day' }],
    },
    costs: { tokens: 0, costMicros },
    reservationTtlMs: 60_000,
  });
  if (!decision.allowed) throw new Error('admission denied');
  await limits.settle(decision.reservation, { tokens: 0, costMicros });
}

/**
 * A harness factory for one test file: every harness it starts is disposed after each test (registers an
 * afterEach hook, so call it at the top level of the file).
 */
export function harnessDisposedAfterEach(): (options?: HarnessOptions) => Promise<BudgetHarness> {
  const disposables: AsyncDisposable[] = [];
  afterEach(async () => {
    for (const disposable of disposables.splice(0)) await disposable[Symbol.asyncDispose]();
  });
  return async (options = {}) => {
    const started = await budgetHarness(options);
    disposables.push(started);
    return started;
  };
}

/** A store failure by timeout, as the Redis store reports one. */
export const storeTimeout = (operation: string) => new LimitStoreUnavailableError(operation, 'timeout');

/** The audit trail as [request id, phase] pairs, oldest first. */
export const auditPhases = async (h: BudgetHarness) =>
  (await h.events()).map((event) => [event.requestId, event.attributes.phase]);
