import { timestampMs } from '@bufbuild/protobuf/wkt';
import { Code } from '@connectrpc/connect';
import { AuditEventKind } from '@api-router/contracts';
import { describe, expect, it } from 'vitest';
import {
  NOW_MS,
  auditPhases as phases,
  harnessDisposedAfterEach,
  storeTimeout as timeout,
  codeOf,
  errorOf,
  operator,
  operatorWithKey,
  ref,
  spend,
  storeRef,
  viewer,
} from './budget-admin.test-support.js';

const harness = harnessDisposedAfterEach();

describe('budget administration', () => {
  it('shows a budget the store has never seen with the policy limit and nothing spent', async () => {
    const { admin } = await harness();
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
    const { admin, limits } = await harness();
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
    const h = await harness();
    const topUp = { ...ref, amountMicros: 1n, reason: 'test' };
    expect(await codeOf(h.admin.topUpBudget(topUp, viewer))).toBe(Code.PermissionDenied);
    expect(await codeOf(h.admin.resetBudget({ ...ref, reason: 'x' }, viewer))).toBe(Code.PermissionDenied);
    expect(await codeOf(h.admin.setBudgetLimit({ ...ref, reason: 'x' }, viewer))).toBe(Code.PermissionDenied);
    expect(await codeOf(h.admin.getBudget(ref))).toBe(Code.Unauthenticated);
    expect(await h.events()).toEqual([]);
  });

  it('tops up, resets and sets the limit for an operator; each change is an intent then one applied event', async () => {
    const h = await harness();
    await spend(h.limits, 400_000);

    const topUp = await h.admin.topUpBudget({ ...ref, amountMicros: 1_000_000n, reason: 'INC-42' }, operator);
    expect(topUp.before?.limitMicros).toBe(5_000_000n);
    expect(topUp.after).toMatchObject({ limitMicros: 6_000_000n, remainingMicros: 5_600_000n });
    const reset = await h.admin.resetBudget({ ...ref, reason: 'new contract' }, operator);
    expect(reset.after).toMatchObject({ spentMicros: 0n, limitMicros: 5_000_000n });
    const set = await h.admin.setBudgetLimit({ ...ref, limitMicros: 2_000_000n, reason: 'cap' }, operator);
    expect(set.after?.limitMicros).toBe(2_000_000n);
    const cleared = await h.admin.setBudgetLimit({ ...ref, usePolicyLimit: true, reason: 'undo' }, operator);
    expect(cleared.after?.limitMicros).toBe(5_000_000n);

    const ids = [topUp, reset, set, cleared].map((answer) => answer.auditEventId);
    expect(ids).toEqual(['evt-001', 'evt-003', 'evt-005', 'evt-007']);
    const audit = await h.events();
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
      change_id: 'evt-001',
      amount_micros: '1000000',
      before_limit_micros: '5000000',
      before_spent_micros: '400000',
    };
    expect(audit[0]).toMatchObject({ ...common, eventId: 'evt-001', attributes: change });
    expect(audit[0]!.attributes.after_limit_micros).toBeUndefined();
    expect(audit[1]).toMatchObject({
      ...common,
      eventId: 'evt-002',
      attributes: {
        ...change,
        intent_event_id: 'evt-001',
        recorded_by: 'call',
        after_limit_micros: '6000000',
        after_remaining_micros: '5600000',
      },
    });
    expect(timestampMs(audit[0]!.at!)).toBe(NOW_MS);
    expect(audit[3]).toMatchObject({ reasonCode: 'budget_reset', attributes: { after_spent_micros: '0' } });
    expect(audit[7]).toMatchObject({ attributes: { use_policy_limit: 'true' } });
    expect(await h.audit.openChanges(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
  });

  it("addresses a key's budget by its key check id and names the key in the event", async () => {
    const h = await harness();
    const keyRef = { tenantId: 'acme', budgetId: 'key:rk_demo01:daily' };
    expect((await h.admin.getBudget(keyRef, viewer)).budget?.policyLimitMicros).toBe(1_000_000n);
    await h.admin.topUpBudget({ ...keyRef, amountMicros: 5n, reason: 'r' }, operator);
    const [intent, applied] = await h.events();
    expect(intent).toMatchObject({ keyPublicId: 'rk_demo01', tenantId: 'acme' });
    expect(applied).toMatchObject({ keyPublicId: 'rk_demo01', tenantId: 'acme' });
  });

  it('refuses bad input: unknown budget or tenant, missing reason, zero amount, malformed idempotency key', async () => {
    const h = await harness();
    const cases: [Promise<unknown>, Code][] = [
      [h.admin.getBudget({ tenantId: 'acme', budgetId: 'tenant:acme:weekly' }, viewer), Code.NotFound],
      [h.admin.getBudget({ tenantId: 'other', budgetId: 'tenant:acme:daily' }, viewer), Code.NotFound],
      [h.admin.getBudget({ tenantId: '', budgetId: '' }, viewer), Code.InvalidArgument],
      [h.admin.topUpBudget({ ...ref, amountMicros: 1n, reason: '  ' }, operator), Code.InvalidArgument],
      [h.admin.topUpBudget({ ...ref, amountMicros: 0n, reason: 'r' }, operator), Code.InvalidArgument],
      [
        h.admin.topUpBudget({ ...ref, amountMicros: 10n ** 16n, reason: 'r' }, operator),
        Code.InvalidArgument,
      ],
      [h.admin.resetBudget({ ...ref, reason: 'r' }, operatorWithKey('tab\tkey')), Code.InvalidArgument],
      [
        h.admin.resetBudget({ ...ref, reason: 'r', idempotencyKey: ' padded' }, operator),
        Code.InvalidArgument,
      ],
      [h.admin.resetBudget({ ...ref, reason: 'r', idempotencyKey: 'clé' }, operator), Code.InvalidArgument],
      [h.admin.resetBudget({ ...ref, reason: 'r' }, operatorWithKey('k'.repeat(129))), Code.InvalidArgument],
    ];
    for (const [call, code] of cases) expect(await codeOf(call)).toBe(code);
    expect(await h.events()).toEqual([]);
  });

  // proto3 cannot tell an omitted uint64 from 0: a SetBudgetLimit with neither field set the limit to 0,
  // which denies every request of the budget. limit_micros has presence now; exactly one must be set.
  it('refuses a SetBudgetLimit that sets neither limit_micros nor use_policy_limit, or both', async () => {
    const h = await harness();
    for (const request of [
      { ...ref, reason: 'forgot the limit' },
      { ...ref, limitMicros: 7n, usePolicyLimit: true, reason: 'both' },
    ]) {
      const error = await errorOf(h.admin.setBudgetLimit(request, operator));
      expect(error?.code).toBe(Code.InvalidArgument);
      expect(error?.rawMessage).toMatch(/exactly one of limit_micros and use_policy_limit/);
    }
    expect(await h.events()).toEqual([]);
    const zero = await h.admin.setBudgetLimit({ ...ref, limitMicros: 0n, reason: 'freeze' }, operator);
    expect(zero.after?.limitMicros).toBe(0n);
  });

  // Over gRPC the message travels in a trailer: quoting a 100 000-character id whole broke the stream
  // (INTERNAL, NGHTTP2_FRAME_SIZE_ERROR) instead of answering NOT_FOUND.
  it('quotes only the start of a very long unknown tenant or budget id in its NOT_FOUND message', async () => {
    const h = await harness();
    const long = 'x'.repeat(100_000);
    for (const request of [
      { tenantId: long, budgetId: 'tenant:acme:daily' },
      { tenantId: 'acme', budgetId: long },
    ]) {
      const error = await errorOf(h.admin.getBudget(request, viewer));
      expect(error?.code).toBe(Code.NotFound);
      expect(error?.rawMessage).toContain('(100000 characters)');
      expect(error?.rawMessage.length).toBeLessThan(1000);
    }
  });

  it('answers FAILED_PRECONDITION without a shared store (embedded mode)', async () => {
    const { admin } = await harness({ store: () => 'none' });
    const error = await errorOf(admin.getBudget(ref, viewer));
    expect(error?.code).toBe(Code.FailedPrecondition);
    expect(error?.rawMessage).toMatch(/CP_REDIS_URL/);
    expect(await codeOf(admin.resetBudget({ ...ref, reason: 'r' }, operator))).toBe(Code.FailedPrecondition);
  });

  it('changes nothing and fails UNAVAILABLE when the intent event cannot be stored', async () => {
    const h = await harness();
    h.faults.intent = true;
    await spend(h.limits, 400_000);
    for (const call of [
      h.admin.topUpBudget({ ...ref, amountMicros: 7n, reason: 'r' }, operator),
      h.admin.resetBudget({ ...ref, reason: 'r' }, operator),
      h.admin.setBudgetLimit({ ...ref, limitMicros: 1n, reason: 'r' }, operator),
    ]) {
      const error = await errorOf(call);
      expect(error?.code).toBe(Code.Unavailable);
      expect(error?.rawMessage).toMatch(/nothing was changed/);
    }
    expect(await h.limits.getBudget(storeRef)).toMatchObject({
      limitMicros: 5_000_000,
      spentMicros: 400_000,
    });
    expect(await h.events()).toEqual([]);
  });

  it('answers an applied change when only its outcome event fails; the reconciler records the outcome later', async () => {
    const h = await harness();
    h.faults.outcome = true;
    const answer = await h.admin.topUpBudget({ ...ref, amountMicros: 7n, reason: 'r' }, operator);
    expect(answer.after?.limitMicros).toBe(7n);
    expect((await h.limits.getBudget(storeRef))?.limitMicros).toBe(7);
    expect(await phases(h)).toEqual([[answer.auditEventId, 'intent']]);

    h.clock.advance(60_000);
    expect(await h.reconciler().reconcileOnce()).toEqual({ examined: 1, recorded: 1, failed: false });
    const outcome = (await h.events())[1];
    expect(outcome).toMatchObject({
      requestId: answer.auditEventId,
      actor: 'ops-alice',
      attributes: {
        phase: 'applied',
        recorded_by: 'reconciler',
        after_limit_micros: '7',
        change_id: 'evt-001',
      },
    });
    expect((await h.limits.getBudget(storeRef))?.limitMicros).toBe(7);
  });

  it('records not_applied right away when Redis fails the change and then confirms it never ran', async () => {
    const h = await harness({
      store: (limits) => ({ ...limits, applyBudgetChange: () => Promise.reject(timeout('apply')) }),
    });
    const error = await errorOf(h.admin.topUpBudget({ ...ref, amountMicros: 7n, reason: 'r' }, operator));
    expect(error?.code).toBe(Code.Unavailable);
    expect(error?.rawMessage).toMatch(/not applied and never will be.*retry$/);
    expect(await phases(h)).toEqual([
      ['evt-001', 'intent'],
      ['evt-001', 'not_applied'],
    ]);
    expect((await h.events())[1]!.attributes).toMatchObject({
      outcome_reason: 'store_failure_timeout',
      recorded_by: 'call',
    });
    // Redis itself refuses the change id from now on.
    expect(
      await h.limits.applyBudgetChange(storeRef, 'evt-001', { operation: 'top_up', amountMicros: 7 }),
    ).toEqual({ status: 'abandoned' });
    expect(await h.limits.getBudget(storeRef)).toBeUndefined();
  });

  it('answers success when a timed-out change did run (Redis says so when asked)', async () => {
    const h = await harness({
      store: (limits) => ({
        ...limits,
        applyBudgetChange: async (...args) => {
          await limits.applyBudgetChange(...args);
          throw timeout('apply');
        },
      }),
    });
    const answer = await h.admin.topUpBudget({ ...ref, amountMicros: 7n, reason: 'r' }, operator);
    expect(answer.after?.limitMicros).toBe(7n);
    expect(await phases(h)).toEqual([
      ['evt-001', 'intent'],
      ['evt-001', 'applied'],
    ]);
  });

  it('leaves the change open for the reconciler when Redis cannot even say whether it ran', async () => {
    let redisDown = true;
    const h = await harness({
      store: (limits) => ({
        ...limits,
        applyBudgetChange: () => Promise.reject(timeout('apply')),
        abandonBudgetChange: (...args) =>
          redisDown ? Promise.reject(timeout('abandon')) : limits.abandonBudgetChange(...args),
      }),
    });
    const error = await errorOf(h.admin.resetBudget({ ...ref, reason: 'r' }, operator));
    expect(error?.code).toBe(Code.Unavailable);
    expect(error?.rawMessage).toMatch(
      /not known yet.*within about 60 s.*GetRequestAudit evt-001.*Idempotency-Key/,
    );
    expect(await phases(h)).toEqual([['evt-001', 'intent']]);
    expect((await h.audit.openChanges(Number.MAX_SAFE_INTEGER, 10)).map((change) => change.changeId)).toEqual(
      ['evt-001'],
    );
    redisDown = false;
    h.clock.advance(60_000);
    await h.reconciler().reconcileOnce();
    expect(await phases(h)).toEqual([
      ['evt-001', 'intent'],
      ['evt-001', 'not_applied'],
    ]);
  });
});
