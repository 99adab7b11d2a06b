import { Code } from '@connectrpc/connect';
import { describe, expect, it } from 'vitest';
import {
  auditPhases as phases,
  codeOf,
  errorOf,
  harnessDisposedAfterEach,
  operator,
  operatorWithKey,
  ref,
  spend,
  storeRef,
} from './budget-admin.test-support.js';

// Budget changes under a caller's idempotency key (header or request field); the other budget admin tests
// are in budget-admin-handlers.test.ts.
const harness = harnessDisposedAfterEach();

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

  // Redis remembers the key for another change that this audit store never saw (a second control plane
  // with its own SQLite file, or a state dir lost while Redis kept its change ids): the call answered a bare
  // INTERNAL and left the change open for the reconciler.
  it('refuses a key Redis holds for another change as INVALID_ARGUMENT, recording not_applied at once', async () => {
    const h = await harness();
    await h.limits.applyBudgetChange(storeRef, 'key-elsewhere', { operation: 'top_up', amountMicros: 7 });
    const error = await errorOf(h.admin.topUpBudget(topUp, operatorWithKey('key-elsewhere')));
    expect(error?.code).toBe(Code.InvalidArgument);
    expect(error?.rawMessage).toMatch(/already used for another change/);
    expect(await phases(h)).toEqual([
      ['evt-001', 'intent'],
      ['evt-001', 'not_applied'],
    ]);
    expect((await h.events())[1]?.attributes.outcome_reason).toBe('change_id_conflict');
    expect((await h.limits.getBudget(storeRef))?.limitMicros).toBe(7);
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
