import { createHash, randomUUID } from 'node:crypto';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AdminService, AuditEventKind } from '@api-router/contracts';
import { createRedisLimitStore, type BudgetChangeStore, type LimitStore } from '@api-router/limits';
import { testServices } from '@api-router/testing';
import { budgetChangeIntentEvent } from '../src/budget/budget-change-event.js';
import { createDatabaseFixture } from './postgres-database-fixture.js';
import { startTestControlPlane, type TestControlPlane } from './start-test-control-plane.js';

// Budget administration against the real Redis the data planes share: a viewer reads, an operator tops
// up, resets and sets the limit, each change is audited before it is applied (ADMIN_CHANGE intent, then
// its applied outcome, with actor and reason), and
// the data planes' store (same Redis, same key prefix) sees every change. Without CP_REDIS_URL the budget
// calls answer FAILED_PRECONDITION.

const VIEWER = 'budget-viewer-token';
const OPERATOR = 'budget-operator-token';
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
const ROUTER_YAML = `backends:
  - id: mock-a
    baseUrl: http://127.0.0.1:9101/v1
routes:
  - id: demo-chat
    model: demo-chat
    targets:
      - backend: mock-a
        weight: 1
prices:
  - { model: demo-chat, inputUsdPerMillionTokens: '1.00', outputUsdPerMillionTokens: '1.00' }
admin:
  tokens:
    - { id: watcher, sha256: ${sha256(VIEWER)}, role: viewer }
    - { id: ops-alice, sha256: ${sha256(OPERATOR)}, role: operator }
`;
const POLICIES_YAML = `tenants:
  - id: acme
    displayName: Acme
    limits:
      budgets:
        - { id: daily, limitUsd: '5.00', period: day }
apiKeys: []
`;
const BUDGET = { tenantId: 'acme', budgetId: 'tenant:acme:daily' };
const as = (token: string, headers: Record<string, string> = {}) => ({
  headers: { authorization: `Bearer ${token}`, ...headers },
});
// A prefix of its own: the test never touches another test's (or a running data plane's) budgets.
const PREFIX = `it-budget-${randomUUID().slice(0, 8)}:`;
const KEY = `it-key-${randomUUID()}`;

let running: TestControlPlane | undefined;
let redis: Redis;
let dataPlaneStore: LimitStore & BudgetChangeStore;

beforeAll(() => {
  redis = new Redis(testServices().REDIS_URL, { maxRetriesPerRequest: 1 });
  dataPlaneStore = createRedisLimitStore({ redis, keyPrefix: PREFIX, commandTimeoutMs: 2000 });
});
afterEach(async () => {
  await running?.[Symbol.asyncDispose]();
  running = undefined;
});
afterAll(async () => {
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

function admin() {
  return createClient(
    AdminService,
    createConnectTransport({ baseUrl: running!.controlPlane.httpUrl, httpVersion: '1.1' }),
  );
}

async function codeOf(call: Promise<unknown>): Promise<Code | 'ok'> {
  try {
    await call;
    return 'ok';
  } catch (error: unknown) {
    return ConnectError.from(error).code;
  }
}

/** What a data plane does for one request: reserve `reserveMicros`, settle `spendMicros`. */
async function admitAndSettle(reserveMicros: number, spendMicros: number): Promise<boolean> {
  const decision = await dataPlaneStore.admit({
    requestId: `it-${randomUUID()}`,
    plan: {
      partition: 'acme',
      checks: [{ kind: 'budget', id: BUDGET.budgetId, limitMicros: 5_000_000, period: 'day' }],
    },
    costs: { tokens: 0, costMicros: reserveMicros },
    reservationTtlMs: 60_000,
  });
  if (!decision.allowed) return false;
  await dataPlaneStore.settle(decision.reservation, { tokens: 0, costMicros: spendMicros });
  return true;
}

describe('budget administration against the shared Redis', () => {
  it('viewer reads; operator tops up, resets, sets the limit; every change is audited', async () => {
    running = await startTestControlPlane(
      { budgets: { redisUrl: testServices().REDIS_URL, limitsKeyPrefix: PREFIX, commandTimeoutMs: 2000 } },
      { router: ROUTER_YAML, policies: POLICIES_YAML },
    );
    const client = admin();
    expect(await admitAndSettle(1_000_000, 400_000)).toBe(true);

    const { budget } = await client.getBudget(BUDGET, as(VIEWER));
    expect(budget).toMatchObject({
      limitMicros: 5_000_000n,
      spentMicros: 400_000n,
      reservedMicros: 0n,
      remainingMicros: 4_600_000n,
      policyLimitAdopted: true,
      period: 'day',
    });
    expect(budget?.periodResetAt).toBeDefined();
    expect(await codeOf(client.topUpBudget({ ...BUDGET, amountMicros: 1n, reason: 'x' }, as(VIEWER)))).toBe(
      Code.PermissionDenied,
    );

    const topUp = await client.topUpBudget(
      { ...BUDGET, amountMicros: 1_000_000n, reason: 'INC-7 customer prepaid' },
      as(OPERATOR),
    );
    expect(topUp.after).toMatchObject({ limitMicros: 6_000_000n, remainingMicros: 5_600_000n });
    const reset = await client.resetBudget({ ...BUDGET, reason: 'billing corrected' }, as(OPERATOR));
    expect(reset.after).toMatchObject({ spentMicros: 0n, limitMicros: 5_000_000n });
    const set = await client.setBudgetLimit(
      { ...BUDGET, limitMicros: 2_000_000n, reason: 'cap during incident' },
      as(OPERATOR),
    );
    expect(set.after).toMatchObject({ limitMicros: 2_000_000n, remainingMicros: 2_000_000n });
    // The data planes' store sees the new limit at once: 2.5 no longer fits, 1.5 does.
    expect(await admitAndSettle(2_500_000, 0)).toBe(false);
    expect(await admitAndSettle(1_500_000, 0)).toBe(true);

    const audit = await client.getRequestAudit({ requestId: topUp.auditEventId }, as(VIEWER));
    expect(audit.events.map((event) => event.attributes.phase).sort()).toEqual(['applied', 'intent']);
    const intent = audit.events.find((event) => event.attributes.phase === 'intent');
    expect(intent).toMatchObject({
      eventId: topUp.auditEventId,
      kind: AuditEventKind.ADMIN_CHANGE,
      actor: 'ops-alice',
      attributes: { amount_micros: '1000000', before_spent_micros: '400000' },
    });
    expect(audit.events.find((event) => event.attributes.phase === 'applied')).toMatchObject({
      requestId: topUp.auditEventId,
      kind: AuditEventKind.ADMIN_CHANGE,
      tenantId: 'acme',
      actor: 'ops-alice',
      actorReason: 'INC-7 customer prepaid',
      attributes: {
        budget_id: BUDGET.budgetId,
        amount_micros: '1000000',
        before_spent_micros: '400000',
        after_limit_micros: '6000000',
        intent_event_id: topUp.auditEventId,
      },
    });
    const listed = await client.listAuditEvents(
      { tenantId: 'acme', kind: AuditEventKind.ADMIN_CHANGE },
      as(VIEWER),
    );
    expect(listed.events.filter((event) => event.attributes.phase === 'intent')).toHaveLength(3);
    const applied = listed.events.filter((event) => event.attributes.phase === 'applied');
    expect(applied.map((event) => [event.reasonCode, event.actorReason])).toEqual([
      ['budget_set_limit', 'cap during incident'],
      ['budget_reset', 'billing corrected'],
      ['budget_top_up', 'INC-7 customer prepaid'],
    ]);
  });

  it('applies a change repeated with the same Idempotency-Key once, and answers the repeat like the first', async () => {
    running = await startTestControlPlane(
      { budgets: { redisUrl: testServices().REDIS_URL, limitsKeyPrefix: PREFIX, commandTimeoutMs: 2000 } },
      { router: ROUTER_YAML, policies: POLICIES_YAML },
    );
    const client = admin();
    const before = (await client.getBudget(BUDGET, as(VIEWER))).budget!.limitMicros;
    const call = () =>
      client.topUpBudget(
        { ...BUDGET, amountMicros: 300_000n, reason: 'INC-8 retried' },
        as(OPERATOR, { 'idempotency-key': KEY }),
      );
    const first = await call();
    expect(await call()).toEqual(first);
    expect(first.after!.limitMicros - before).toBe(300_000n);
    expect((await client.getBudget(BUDGET, as(VIEWER))).budget!.limitMicros).toBe(first.after!.limitMicros);
    const audit = await client.getRequestAudit({ requestId: first.auditEventId }, as(VIEWER));
    expect(audit.events.map((event) => event.attributes.phase).sort()).toEqual(['applied', 'intent']);
    expect(audit.events.every((event) => event.attributes.change_id === KEY)).toBe(true);
  });

  it('takes the key from the idempotency_key field: applies once, refuses a header that differs', async () => {
    running = await startTestControlPlane(
      { budgets: { redisUrl: testServices().REDIS_URL, limitsKeyPrefix: PREFIX, commandTimeoutMs: 2000 } },
      { router: ROUTER_YAML, policies: POLICIES_YAML },
    );
    const client = admin();
    const key = `it-field-key-${randomUUID()}`;
    const before = (await client.getBudget(BUDGET, as(VIEWER))).budget!.limitMicros;
    const request = { ...BUDGET, amountMicros: 200_000n, reason: 'INC-11 retried', idempotencyKey: key };
    const first = await client.topUpBudget(request, as(OPERATOR));
    expect(await client.topUpBudget(request, as(OPERATOR))).toEqual(first);
    expect(await client.topUpBudget(request, as(OPERATOR, { 'idempotency-key': key }))).toEqual(first);
    expect(first.after!.limitMicros - before).toBe(200_000n);
    expect((await client.getBudget(BUDGET, as(VIEWER))).budget!.limitMicros).toBe(first.after!.limitMicros);

    const differ = await client
      .topUpBudget(
        { ...request, idempotencyKey: `${key}-2` },
        as(OPERATOR, { 'idempotency-key': `${key}-3` }),
      )
      .catch((error: unknown) => ConnectError.from(error));
    expect(differ).toBeInstanceOf(ConnectError);
    expect((differ as ConnectError).code).toBe(Code.InvalidArgument);
    expect((differ as ConnectError).rawMessage).toMatch(
      /idempotency_key and the Idempotency-Key header differ/,
    );
    expect((await client.getBudget(BUDGET, as(VIEWER))).budget!.limitMicros).toBe(first.after!.limitMicros);

    const audit = await client.getRequestAudit({ requestId: first.auditEventId }, as(VIEWER));
    expect(audit.events.map((event) => event.attributes.phase).sort()).toEqual(['applied', 'intent']);
    expect(audit.events.every((event) => event.attributes.change_id === key)).toBe(true);
  });

  it('records, at start, the outcome of changes a control plane left open (Postgres audit store)', async () => {
    await using database = await createDatabaseFixture();
    // What a control plane that died between intent and outcome left: two open changes, one applied in Redis.
    const stores = await database.open();
    const stored = Date.now() - 1000;
    const intent = (changeId: string) =>
      budgetChangeIntentEvent({
        eventId: randomUUID(),
        changeId,
        atMs: stored,
        budget: { ...BUDGET, keyPublicId: undefined, limitMicros: 5_000_000, period: 'day' },
        change: { operation: 'top_up', amountMicros: 1000 },
        actor: 'ops-alice',
        reason: 'INC-9',
        before: {
          limitMicros: 5_000_000n,
          spentMicros: 0n,
          reservedMicros: 0n,
          remainingMicros: 5_000_000n,
          periodResetAtMs: undefined,
          policyLimitAdopted: false,
        },
      });
    const applied = intent(`it-applied-${randomUUID()}`);
    const lost = intent(`it-lost-${randomUUID()}`);
    await stores.recordIntent(applied.attributes.change_id!, applied, stored);
    await stores.recordIntent(lost.attributes.change_id!, lost, stored);
    await stores.close();
    await dataPlaneStore.applyBudgetChange(
      { partition: 'acme', id: BUDGET.budgetId },
      applied.attributes.change_id!,
      { operation: 'top_up', amountMicros: 1000 },
    );

    running = await startTestControlPlane(
      {
        databaseUrl: database.url,
        budgets: {
          redisUrl: testServices().REDIS_URL,
          limitsKeyPrefix: PREFIX,
          commandTimeoutMs: 2000,
          changes: { graceMs: 0 },
        },
      },
      { router: ROUTER_YAML, policies: POLICIES_YAML },
    );
    const client = admin();
    const outcomeOf = async (requestId: string) => {
      // The first pass runs right after start; poll its result (no fixed sleep).
      for (let attempt = 0; attempt < 200; attempt++) {
        const { events } = await client.getRequestAudit({ requestId }, as(VIEWER));
        const outcome = events.find((event) => event.attributes.phase !== 'intent');
        if (outcome !== undefined) return outcome;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error(`no outcome recorded for ${requestId}`);
    };
    expect((await outcomeOf(applied.eventId)).attributes).toMatchObject({
      phase: 'applied',
      recorded_by: 'reconciler',
    });
    expect((await outcomeOf(lost.eventId)).attributes).toMatchObject({
      phase: 'not_applied',
      outcome_reason: 'abandoned',
    });
    const metrics = await (await fetch(`${running.controlPlane.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/router_cp_budget_changes_reconciled_total\{[^}]*outcome="applied"[^}]*\} 1/);
    expect(metrics).toMatch(/router_cp_budget_changes_reconciled_total\{[^}]*outcome="not_applied"[^}]*\} 1/);
    await running[Symbol.asyncDispose]();
    running = undefined;
  });

  it('answers FAILED_PRECONDITION without CP_REDIS_URL (embedded mode)', async () => {
    running = await startTestControlPlane({}, { router: ROUTER_YAML, policies: POLICIES_YAML });
    const client = admin();
    expect(await codeOf(client.getBudget(BUDGET, as(VIEWER)))).toBe(Code.FailedPrecondition);
    expect(await codeOf(client.topUpBudget({ ...BUDGET, amountMicros: 1n, reason: 'r' }, as(OPERATOR)))).toBe(
      Code.FailedPrecondition,
    );
  });
});
