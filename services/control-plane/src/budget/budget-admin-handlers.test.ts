import { timestampMs } from '@bufbuild/protobuf/wkt';
import { Code } from '@connectrpc/connect';
import { AuditEventKind } from '@api-router/contracts';
import { LimitStoreUnavailableError } from '@api-router/limits';
import { afterEach, describe, expect, it } from 'vitest';
import {
  NOW_MS,
  budgetHarness,
  codeOf,
  errorOf,
  operator,
  operatorWithKey,
  ref,
  spend,
  storeRef,
  viewer,
  type BudgetHarness,
  type HarnessOptions,
} from './budget-admin.test-support.js';

const disposables: AsyncDisposable[] = [];
afterEach(async () => {
  for (const disposable of disposables.splice(0)) await disposable[Symbol.asyncDispose]();
});
async function harness(options: HarnessOptions = {}): Promise<BudgetHarness> {
  const started = await budgetHarness(options);
  disposables.push(started);
  return started;
}
const timeout = (operation: string) => new LimitStoreUnavailableError(operation, 'timeout');
const phases = async (h: BudgetHarness) =>
  (await h.events()).map((event) => [event.requestId, event.attributes.phase]);

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

describe('budget changes with an Idempotency-Key', () => {
  const topUp = { ...ref, amountMicros: 250_000n, reason: 'INC-9' };

  it('answers a repeated call like the first one and applies the change once', async () => {
    const h = await harness();
    const first = await h.admin.topUpBudget(topUp, operatorWithKey('key-1'));
    await spend(h.limits, 100_000);
    const again = await h.admin.topUpBudget(topUp, operatorWithKey('key-1'));
    expect(again).toEqual(first);
    // Before any admission the store holds only the top-up (ADR 0004); the replay shows the same numbers.
    expect(first.after).toMatchObject({ limitMicros: 250_000n, policyLimitAdopted: false });
    expect((await h.limits.getBudget(storeRef))?.limitMicros).toBe(5_250_000);
    expect(await phases(h)).toEqual([
      ['evt-001', 'intent'],
      ['evt-001', 'applied'],
    ]);
    expect((await h.events())[0]!.attributes.change_id).toBe('key-1');
    // Concurrent repeats too.
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => h.admin.topUpBudget(topUp, operatorWithKey('key-2'))),
    );
    expect(new Set(answers.map((answer) => answer.auditEventId)).size).toBe(1);
    expect((await h.limits.getBudget(storeRef))?.limitMicros).toBe(5_500_000);
  });

  it('refuses the key for another change or another budget', async () => {
    const h = await harness();
    await h.admin.topUpBudget(topUp, operatorWithKey('key-1'));
    const other = await errorOf(
      h.admin.topUpBudget({ ...topUp, amountMicros: 1n }, operatorWithKey('key-1')),
    );
    expect(other?.code).toBe(Code.InvalidArgument);
    expect(other?.rawMessage).toMatch(/already used for another change/);
    expect(await codeOf(h.admin.resetBudget({ ...ref, reason: 'r' }, operatorWithKey('key-1')))).toBe(
      Code.InvalidArgument,
    );
    const keyBudget = { ...topUp, budgetId: 'key:rk_demo01:daily' };
    expect(await codeOf(h.admin.topUpBudget(keyBudget, operatorWithKey('key-1')))).toBe(Code.InvalidArgument);
    expect((await h.limits.getBudget(storeRef))?.limitMicros).toBe(250_000);
  });

  /** A harness whose Redis calls throw like a control plane dying mid-call while `crashed.now` is set. */
  async function crashable() {
    const crashed = { now: true };
    const died = () => Promise.reject(new Error('process died'));
    const h = await harness({
      store: (limits) => ({
        ...limits,
        applyBudgetChange: (...args) => (crashed.now ? died() : limits.applyBudgetChange(...args)),
        abandonBudgetChange: (...args) => (crashed.now ? died() : limits.abandonBudgetChange(...args)),
      }),
    });
    return { h, crashed };
  }

  it('applies, once, a change whose first call stopped after its intent', async () => {
    const { h, crashed } = await crashable();
    expect(await codeOf(h.admin.topUpBudget(topUp, operatorWithKey('key-3')))).toBe(Code.Internal);
    expect(await phases(h)).toEqual([['evt-001', 'intent']]);

    // The operator repeats the call (same key) once the control plane works again: applied once.
    crashed.now = false;
    const answer = await h.admin.topUpBudget(topUp, operatorWithKey('key-3'));
    expect(answer.auditEventId).toBe('evt-001');
    expect(answer.after?.limitMicros).toBe(250_000n);
    expect(await h.admin.topUpBudget(topUp, operatorWithKey('key-3'))).toEqual(answer);
    expect((await h.limits.getBudget(storeRef))?.limitMicros).toBe(250_000);
    expect(await phases(h)).toEqual([
      ['evt-001', 'intent'],
      ['evt-001', 'applied'],
    ]);
  });

  it('answers ABORTED for a change the reconciler abandoned, and refuses to replay one too old', async () => {
    const { h, crashed } = await crashable();
    await codeOf(h.admin.topUpBudget(topUp, operatorWithKey('key-4')));
    crashed.now = false;
    h.clock.advance(60_000);
    expect((await h.reconciler().reconcileOnce()).recorded).toBe(1);
    const aborted = await errorOf(h.admin.topUpBudget(topUp, operatorWithKey('key-4')));
    expect(aborted?.code).toBe(Code.Aborted);
    expect(aborted?.rawMessage).toMatch(/not applied \(abandoned.*new idempotency key/);

    // An open change older than Redis remembers change ids for (half the retention) is never replayed.
    crashed.now = true;
    await codeOf(h.admin.resetBudget({ ...ref, reason: 'r' }, operatorWithKey('key-5')));
    crashed.now = false;
    h.clock.advance(12 * 3_600_000);
    const tooOld = await errorOf(h.admin.resetBudget({ ...ref, reason: 'r' }, operatorWithKey('key-5')));
    expect(tooOld?.code).toBe(Code.FailedPrecondition);
    expect(await h.limits.getBudget(storeRef)).toBeUndefined();
  });
});

describe('budget changes with an idempotency_key field', () => {
  const topUp = { ...ref, amountMicros: 250_000n, reason: 'INC-10' };

  it('names the change by the field: a repeated call answers like the first and applies once', async () => {
    const h = await harness();
    const first = await h.admin.topUpBudget({ ...topUp, idempotencyKey: 'field key/1' }, operator);
    const again = await h.admin.topUpBudget({ ...topUp, idempotencyKey: 'field key/1' }, operator);
    expect(again).toEqual(first);
    // The same key as a header names the same change.
    expect(await h.admin.topUpBudget(topUp, operatorWithKey('field key/1'))).toEqual(first);
    expect((await h.limits.getBudget(storeRef))?.limitMicros).toBe(250_000);
    expect(await phases(h)).toEqual([
      ['evt-001', 'intent'],
      ['evt-001', 'applied'],
    ]);
    expect((await h.events())[0]!.attributes.change_id).toBe('field key/1');
  });

  it('accepts a field and a header that agree, and refuses ones that differ before anything is recorded', async () => {
    const h = await harness();
    const both = await h.admin.resetBudget(
      { ...ref, reason: 'r', idempotencyKey: 'key-a' },
      operatorWithKey('key-a'),
    );
    expect((await h.events())[0]!.attributes.change_id).toBe('key-a');
    const differ = await errorOf(
      h.admin.setBudgetLimit(
        { ...ref, limitMicros: 1n, reason: 'r', idempotencyKey: 'key-b' },
        operatorWithKey('key-c'),
      ),
    );
    expect(differ?.code).toBe(Code.InvalidArgument);
    expect(differ?.rawMessage).toMatch(/idempotency_key and the Idempotency-Key header differ/);
    expect(await phases(h)).toEqual([
      [both.auditEventId, 'intent'],
      [both.auditEventId, 'applied'],
    ]);
  });
});
