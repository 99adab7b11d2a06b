import { createHash } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createClient, createRouterTransport } from '@connectrpc/connect';
import {
  AdminService,
  AuditEventKind,
  BudgetPeriod,
  PolicySnapshotSchema,
  type AuditEvent,
} from '@api-router/contracts';
import { createMemoryLimitStore, LimitStoreUnavailableError, type LimitStore } from '@api-router/limits';
import { createLogger } from '@api-router/observability';
import type { AdminTokenConfig } from '@api-router/policy';
import { describe, expect, it } from 'vitest';
import { createAdminAuthInterceptor } from '../admin-auth-interceptor.js';
import type { StorableRecord } from '../audit/audit-store.js';
import { createErrorInterceptor } from '../error-interceptor.js';
import { createBudgetAdminHandlers, type BudgetStore } from './budget-admin-handlers.js';

const logger = createLogger({ service: 'test', level: 'silent' });
const NOW_MS = Date.UTC(2025, 5, 10, 12, 0, 0);
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
const TOKENS: AdminTokenConfig[] = [
  { id: 'watcher', sha256: sha256('viewer-secret'), role: 'viewer' },
  { id: 'ops-alice', sha256: sha256('operator-secret'), role: 'operator' },
];
const as = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
const viewer = as('viewer-secret');
const operator = as('operator-secret');

const daily = (limitMicros: bigint) => ({
  budgets: [{ id: 'daily', limitMicros, period: BudgetPeriod.DAY }],
});
const snapshot = create(PolicySnapshotSchema, {
  version: 3n,
  tenants: [{ id: 'acme', limits: daily(5_000_000n) }, { id: 'other' }],
  apiKeys: [{ publicId: 'rk_demo01', tenantId: 'acme', limits: daily(1_000_000n) }],
});

interface HarnessOptions {
  store?: BudgetStore | 'none';
  /** Which events the audit store fails to store (the whole batch fails). */
  failAudit?: (event: AuditEvent) => boolean;
}

function harness(options: HarnessOptions = {}) {
  const limits: LimitStore = createMemoryLimitStore({ clock: { now: () => NOW_MS } });
  const audit: AuditEvent[] = [];
  const errors = createErrorInterceptor(logger);
  const auth = createAdminAuthInterceptor({ tokens: () => TOKENS, logger });
  let ids = 0;
  const handlers = createBudgetAdminHandlers({
    store: options.store === 'none' ? undefined : (options.store ?? limits),
    policy: () => snapshot,
    auditStore: {
      ingest: (records: readonly StorableRecord[]) => {
        const fails = options.failAudit ?? (() => false);
        if (records.some((record) => record.type === 'audit' && fails(record.event))) {
          return Promise.reject(new Error('disk full'));
        }
        for (const record of records) if (record.type === 'audit') audit.push(record.event);
        return Promise.resolve({ storedAudit: records.length, storedUsage: 0, duplicates: 0 });
      },
    },
    clock: { now: () => NOW_MS },
    logger,
    newEventId: () => `evt-${(ids += 1)}`,
  });
  const transport = createRouterTransport((router) => {
    router.service(AdminService, handlers, { interceptors: [errors, auth] });
  });
  return { admin: createClient(AdminService, transport), limits, audit };
}

/** What a data plane does: an admission under the policy's plan reserves, a settlement spends. */
async function spend(limits: LimitStore, costMicros: number): Promise<void> {
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

async function codeOf(call: Promise<unknown>): Promise<Code | 'ok'> {
  try {
    await call;
    return 'ok';
  } catch (error: unknown) {
    return ConnectError.from(error).code;
  }
}

const ref = { tenantId: 'acme', budgetId: 'tenant:acme:daily' };

describe('budget administration', () => {
  it('shows a budget the store has never seen with the policy limit and nothing spent', async () => {
    const { admin } = harness();
    const { budget } = await admin.getBudget(ref, viewer);
    expect(budget).toMatchObject({
      limitMicros: 5_000_000n,
      spentMicros: 0n,
      reservedMicros: 0n,
      remainingMicros: 5_000_000n,
      period: 'day',
      policyLimitMicros: 5_000_000n,
      policyLimitAdopted: false,
    });
  });

  it('lets a viewer read what the data planes spent, with the period reset time', async () => {
    const { admin, limits } = harness();
    await spend(limits, 400_000);
    const { budget } = await admin.getBudget(ref, viewer);
    expect(budget).toMatchObject({
      limitMicros: 5_000_000n,
      spentMicros: 400_000n,
      remainingMicros: 4_600_000n,
      policyLimitAdopted: true,
    });
    expect(timestampMs(budget!.periodResetAt!)).toBe(Date.UTC(2025, 5, 11));
  });

  it('refuses changes to a viewer, and to anyone without a token', async () => {
    const { admin, audit } = harness();
    const topUp = { ...ref, amountMicros: 1n, reason: 'test' };
    expect(await codeOf(admin.topUpBudget(topUp, viewer))).toBe(Code.PermissionDenied);
    expect(await codeOf(admin.resetBudget({ ...ref, reason: 'x' }, viewer))).toBe(Code.PermissionDenied);
    expect(await codeOf(admin.setBudgetLimit({ ...ref, reason: 'x' }, viewer))).toBe(Code.PermissionDenied);
    expect(await codeOf(admin.getBudget(ref))).toBe(Code.Unauthenticated);
    expect(audit).toEqual([]);
  });

  it('tops up, resets and sets the limit for an operator; each change is an intent then an applied event', async () => {
    const { admin, limits, audit } = harness();
    await spend(limits, 400_000);

    const topUp = await admin.topUpBudget({ ...ref, amountMicros: 1_000_000n, reason: 'INC-42' }, operator);
    expect(topUp.before?.limitMicros).toBe(5_000_000n);
    expect(topUp.after).toMatchObject({ limitMicros: 6_000_000n, remainingMicros: 5_600_000n });
    const reset = await admin.resetBudget({ ...ref, reason: 'new contract' }, operator);
    expect(reset.after).toMatchObject({ spentMicros: 0n, limitMicros: 5_000_000n });
    const set = await admin.setBudgetLimit({ ...ref, limitMicros: 2_000_000n, reason: 'cap' }, operator);
    expect(set.after?.limitMicros).toBe(2_000_000n);
    const cleared = await admin.setBudgetLimit({ ...ref, usePolicyLimit: true, reason: 'undo' }, operator);
    expect(cleared.after?.limitMicros).toBe(5_000_000n);

    const ids = [topUp, reset, set, cleared].map((answer) => answer.auditEventId);
    expect(ids).toEqual(['evt-1', 'evt-3', 'evt-5', 'evt-7']);
    expect(audit.map((event) => [event.requestId, event.attributes.phase])).toEqual(
      ids.flatMap((id) => [
        [id, 'intent'],
        [id, 'applied'],
      ]),
    );
    expect(audit.every((event) => event.kind === AuditEventKind.ADMIN_CHANGE)).toBe(true);
    const common = {
      requestId: topUp.auditEventId,
      tenantId: 'acme',
      actor: 'ops-alice',
      actorReason: 'INC-42',
      reasonCode: 'budget_top_up',
      dataPlaneId: 'control-plane',
    };
    const change = {
      budget_id: 'tenant:acme:daily',
      amount_micros: '1000000',
      before_limit_micros: '5000000',
      before_spent_micros: '400000',
    };
    expect(audit[0]).toMatchObject({ ...common, eventId: 'evt-1', attributes: change });
    expect(audit[0]!.attributes.after_limit_micros).toBeUndefined();
    expect(audit[1]).toMatchObject({
      ...common,
      eventId: 'evt-2',
      attributes: {
        ...change,
        intent_event_id: 'evt-1',
        after_limit_micros: '6000000',
        after_remaining_micros: '5600000',
      },
    });
    expect(timestampMs(audit[0]!.at!)).toBe(NOW_MS);
    expect(audit[3]).toMatchObject({ reasonCode: 'budget_reset', attributes: { after_spent_micros: '0' } });
    expect(audit[7]).toMatchObject({ attributes: { use_policy_limit: 'true' } });
  });

  it("addresses a key's budget by its key check id and names the key in the event", async () => {
    const { admin, audit } = harness();
    const keyRef = { tenantId: 'acme', budgetId: 'key:rk_demo01:daily' };
    expect((await admin.getBudget(keyRef, viewer)).budget?.policyLimitMicros).toBe(1_000_000n);
    await admin.topUpBudget({ ...keyRef, amountMicros: 5n, reason: 'r' }, operator);
    expect(audit[0]).toMatchObject({ keyPublicId: 'rk_demo01', tenantId: 'acme' });
    expect(audit[1]).toMatchObject({ keyPublicId: 'rk_demo01', tenantId: 'acme' });
  });

  it('refuses bad input: unknown budget or tenant, missing reason, zero amount', async () => {
    const { admin, audit } = harness();
    const cases: [Promise<unknown>, Code][] = [
      [admin.getBudget({ tenantId: 'acme', budgetId: 'tenant:acme:weekly' }, viewer), Code.NotFound],
      [admin.getBudget({ tenantId: 'other', budgetId: 'tenant:acme:daily' }, viewer), Code.NotFound],
      [admin.getBudget({ tenantId: '', budgetId: '' }, viewer), Code.InvalidArgument],
      [admin.topUpBudget({ ...ref, amountMicros: 1n, reason: '  ' }, operator), Code.InvalidArgument],
      [admin.topUpBudget({ ...ref, amountMicros: 0n, reason: 'r' }, operator), Code.InvalidArgument],
      [admin.topUpBudget({ ...ref, amountMicros: 10n ** 16n, reason: 'r' }, operator), Code.InvalidArgument],
    ];
    for (const [call, code] of cases) expect(await codeOf(call)).toBe(code);
    expect(audit).toEqual([]);
  });

  it('answers FAILED_PRECONDITION without a shared store (embedded mode)', async () => {
    const { admin } = harness({ store: 'none' });
    const error = await admin.getBudget(ref, viewer).catch((caught: unknown) => ConnectError.from(caught));
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.FailedPrecondition);
    expect((error as ConnectError).rawMessage).toMatch(/CP_REDIS_URL/);
    expect(await codeOf(admin.resetBudget({ ...ref, reason: 'r' }, operator))).toBe(Code.FailedPrecondition);
  });

  it('changes nothing and fails UNAVAILABLE when the intent event cannot be stored', async () => {
    const { admin, limits, audit } = harness({ failAudit: () => true });
    await spend(limits, 400_000);
    for (const call of [
      admin.topUpBudget({ ...ref, amountMicros: 7n, reason: 'r' }, operator),
      admin.resetBudget({ ...ref, reason: 'r' }, operator),
      admin.setBudgetLimit({ ...ref, limitMicros: 1n, reason: 'r' }, operator),
    ]) {
      const error = ConnectError.from(await call.catch((caught: unknown) => caught));
      expect(error.code).toBe(Code.Unavailable);
      expect(error.rawMessage).toMatch(/nothing was changed/);
    }
    expect(await limits.getBudget({ partition: 'acme', id: 'tenant:acme:daily' })).toMatchObject({
      limitMicros: 5_000_000,
      spentMicros: 400_000,
    });
    expect(audit).toEqual([]);
  });

  it('answers a change applied and audited by its intent when only the outcome event fails', async () => {
    const { admin, limits, audit } = harness({ failAudit: (event) => event.attributes.phase === 'applied' });
    const answer = await admin.topUpBudget({ ...ref, amountMicros: 7n, reason: 'r' }, operator);
    expect(answer.after?.limitMicros).toBe(7n);
    expect((await limits.getBudget({ partition: 'acme', id: 'tenant:acme:daily' }))?.limitMicros).toBe(7);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      eventId: answer.auditEventId,
      attributes: { phase: 'intent', amount_micros: '7' },
    });
  });

  it('records a failed outcome after the intent when the shared store fails the change', async () => {
    const limits = createMemoryLimitStore({ clock: { now: () => NOW_MS } });
    const failing: BudgetStore = {
      getBudget: (budgetRef) => limits.getBudget(budgetRef),
      topUpBudget: () => Promise.reject(new LimitStoreUnavailableError('topUpBudget', 'timeout')),
      resetBudget: (budgetRef) => limits.resetBudget(budgetRef),
      setBudgetLimit: (budgetRef, limitMicros) => limits.setBudgetLimit(budgetRef, limitMicros),
    };
    const { admin, audit } = harness({ store: failing });
    const error = ConnectError.from(
      await admin
        .topUpBudget({ ...ref, amountMicros: 7n, reason: 'r' }, operator)
        .catch((caught: unknown) => caught),
    );
    expect(error.code).toBe(Code.Unavailable);
    expect(error.rawMessage).toMatch(/read the budget before retrying/);
    expect(audit.map((event) => [event.requestId, event.attributes.phase])).toEqual([
      ['evt-1', 'intent'],
      ['evt-1', 'failed'],
    ]);
    expect(audit[1]).toMatchObject({ attributes: { store_failure: 'timeout', intent_event_id: 'evt-1' } });
  });
});
