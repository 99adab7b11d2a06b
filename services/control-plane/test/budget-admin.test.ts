import { createHash, randomUUID } from 'node:crypto';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AdminService, AuditEventKind } from '@api-router/contracts';
import { createRedisLimitStore, type LimitStore } from '@api-router/limits';
import { testServices } from '@api-router/testing';
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
const as = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
// A prefix of its own: the test never touches another test's (or a running data plane's) budgets.
const PREFIX = `it-budget-${randomUUID().slice(0, 8)}:`;

let running: TestControlPlane | undefined;
let redis: Redis;
let dataPlaneStore: LimitStore;

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

  it('answers FAILED_PRECONDITION without CP_REDIS_URL (embedded mode)', async () => {
    running = await startTestControlPlane({}, { router: ROUTER_YAML, policies: POLICIES_YAML });
    const client = admin();
    expect(await codeOf(client.getBudget(BUDGET, as(VIEWER)))).toBe(Code.FailedPrecondition);
    expect(await codeOf(client.topUpBudget({ ...BUDGET, amountMicros: 1n, reason: 'r' }, as(OPERATOR)))).toBe(
      Code.FailedPrecondition,
    );
  });
});
