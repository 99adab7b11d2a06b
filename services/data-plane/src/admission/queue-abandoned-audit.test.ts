import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuditEventKind } from '@api-router/contracts';
import { createMemoryLimitStore, type LimitStore } from '@api-router/limits';
import { T0, input, setup } from './admission-controller.test-support.js';
import { LIMIT_KEYS } from './limits-policy.test-support.js';

// Every queued request's wait ends with exactly one audit event after its QUEUED: QUEUE_ADMITTED,
// QUEUE_TIMED_OUT, the denial a retry met (RATE_LIMITED / BUDGET_DENIED), or — when it ends without an
// admission or a limit's answer — QUEUE_ABANDONED: the client left (499), a retry failed (the error's
// status), the replica shut down (503). Before, those three ended with no event at all, and the request's
// audit trail stopped at QUEUED, as if it were still waiting. Fake timers: no wall-clock waits.
afterEach(() => {
  vi.useRealTimers();
});

/** The outcome of an admission that is expected to fail. */
function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => new Error('admitted'),
    (reason: unknown) => reason,
  );
}

describe('the audit event of a wait that ends without admission', () => {
  it('is QUEUE_ABANDONED (499) when the client leaves while queued, appended before admit rejects', async () => {
    vi.useFakeTimers({ now: T0 });
    const { controller, audits } = setup();
    const held = await controller.admit(input(LIMIT_KEYS.conc, { requestId: 'r0' }));
    const client = new AbortController();
    const waiting = failure(
      controller.admit(input(LIMIT_KEYS.conc, { requestId: 'r1', signal: client.signal })),
    );
    await vi.advanceTimersByTimeAsync(120);
    const reason = new Error('client closed');
    client.abort(reason);
    expect(await waiting).toBe(reason);
    expect(audits.filter((event) => event.requestId === 'r1').map((event) => event.kind)).toEqual([
      AuditEventKind.QUEUED,
      AuditEventKind.QUEUE_ABANDONED,
    ]);
    expect(audits.at(-1)).toMatchObject({
      reasonCode: `key:${LIMIT_KEYS.conc}`,
      attributes: {
        decision: 'queue_abandoned',
        outcome: 'client_closed',
        status: '499',
        limit_id: `key:${LIMIT_KEYS.conc}`,
        waited_ms: '120',
      },
    });
    held.finish({ responded: false });
    await controller.close();
  });

  it('is QUEUE_ABANDONED with the error’s status when a retry fails', async () => {
    vi.useFakeTimers({ now: T0 });
    const inner = createMemoryLimitStore({ clock: { now: () => Date.now() } });
    let admits = 0;
    const store: LimitStore = {
      ...inner,
      // The first two admissions reach the store; the queued request's first retry fails unexpectedly.
      admit: (request) => (++admits <= 2 ? inner.admit(request) : Promise.reject(new Error('boom'))),
      settle: (reservation, usage) => inner.settle(reservation, usage),
      release: (reservation) => inner.release(reservation),
      getBudget: (ref) => inner.getBudget(ref),
    };
    const { controller, audits } = setup({ store });
    const held = await controller.admit(input(LIMIT_KEYS.conc, { requestId: 'r0' }));
    const waiting = failure(controller.admit(input(LIMIT_KEYS.conc, { requestId: 'r1' })));
    await vi.advanceTimersByTimeAsync(50);
    expect(await waiting).toMatchObject({ message: 'boom' });
    expect(audits.filter((event) => event.requestId === 'r1').map((event) => event.kind)).toEqual([
      AuditEventKind.QUEUED,
      AuditEventKind.QUEUE_ABANDONED,
    ]);
    expect(audits.at(-1)).toMatchObject({
      attributes: { outcome: 'failed', status: '500', waited_ms: '50' },
    });
    held.finish({ responded: false });
    await controller.close();
  });

  it('is QUEUE_ABANDONED (503) when the replica shuts down while the request waits', async () => {
    vi.useFakeTimers({ now: T0 });
    const { controller, audits } = setup();
    const held = await controller.admit(input(LIMIT_KEYS.conc, { requestId: 'r0' }));
    const waiting = failure(controller.admit(input(LIMIT_KEYS.conc, { requestId: 'r1' })));
    await vi.advanceTimersByTimeAsync(10);
    const closed = controller.close();
    expect(await waiting).toMatchObject({ code: 'not_ready', status: 503 });
    expect(audits.filter((event) => event.requestId === 'r1').map((event) => event.kind)).toEqual([
      AuditEventKind.QUEUED,
      AuditEventKind.QUEUE_ABANDONED,
    ]);
    expect(audits.at(-1)).toMatchObject({ attributes: { outcome: 'shutdown', status: '503' } });
    held.finish({ responded: false });
    await closed;
  });
});
