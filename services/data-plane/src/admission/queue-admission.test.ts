import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuditEventKind } from '@api-router/contracts';
import { createRequestSignal } from '../inference/request-signal.js';
import { systemTimers } from '../timers.js';
import type { Admission } from './admission-ticket.js';
import { T0, input, rejection, setup } from './admission-controller.test-support.js';
import { LIMIT_KEYS } from './limits-policy.test-support.js';

// Fake timers: the queue's retry ticks and max waits run on vi's clock, never on the wall clock.
afterEach(() => {
  vi.useRealTimers();
});

/** A pending admission whose settlement can be read without awaiting it. */
function track(promise: Promise<Admission>): {
  promise: Promise<Admission>;
  state: () => 'pending' | 'admitted' | 'rejected';
} {
  let state: 'pending' | 'admitted' | 'rejected' = 'pending';
  promise.then(
    () => (state = 'admitted'),
    () => (state = 'rejected'),
  );
  return { promise, state: () => state };
}

describe('queue order in admission', () => {
  it('gives each freed slot to the oldest queued request, never to a request arriving at that moment', async () => {
    vi.useFakeTimers({ now: T0 });
    const { controller, audits } = setup();
    let holder = await controller.admit(input(LIMIT_KEYS.conc, { requestId: 'r0' }));
    let queued = track(controller.admit(input(LIMIT_KEYS.conc, { requestId: 'r1' })));
    await vi.advanceTimersByTimeAsync(0);
    expect(queued.state()).toBe('pending');
    // Five times a slot frees and a new request arrives in the same tick (the starvation race: before the
    // fix the arrival asked the store first and took the slot, and r1 ended with a 429 after its max wait).
    for (let next = 2; next <= 6; next += 1) {
      holder.finish({ responded: false });
      const arrival = track(controller.admit(input(LIMIT_KEYS.conc, { requestId: `r${next}` })));
      await vi.advanceTimersByTimeAsync(0);
      expect(queued.state()).toBe('admitted');
      expect(arrival.state()).toBe('pending');
      holder = await queued.promise;
      queued = arrival;
    }
    holder.finish({ responded: false });
    (await queued.promise).finish({ responded: false });
    const admittedOrder = audits
      .filter((event) => event.kind === AuditEventKind.QUEUE_ADMITTED)
      .map((event) => event.requestId);
    expect(admittedOrder).toEqual(['r1', 'r2', 'r3', 'r4', 'r5', 'r6']);
    // r1 was denied by the store; the later ones queued behind it without asking the store.
    const queuedEvents = audits.filter((event) => event.kind === AuditEventKind.QUEUED);
    expect(queuedEvents[0]?.attributes?.queued_behind).toBeUndefined();
    expect(queuedEvents[0]?.attributes?.admission_id).toMatch(/^r1~/);
    for (const event of queuedEvents.slice(1)) {
      expect(event).toMatchObject({
        reasonCode: `key:${LIMIT_KEYS.conc}`,
        attributes: { queued_behind: 'true', admission_id: '', limit: '1', remaining: '0' },
      });
    }
    await controller.close();
  });

  it('answers 429 with the concurrency retry hint to a request that timed out behind others', async () => {
    vi.useFakeTimers({ now: T0 });
    const { controller, audits } = setup();
    const holder = await controller.admit(input(LIMIT_KEYS.conc, { requestId: 'r0' }));
    const first = track(controller.admit(input(LIMIT_KEYS.conc, { requestId: 'r1' })));
    await vi.advanceTimersByTimeAsync(0);
    const behind = input(LIMIT_KEYS.conc, { requestId: 'r2', remainingMs: () => 30 });
    const waiting = rejection(controller.admit(behind));
    await vi.advanceTimersByTimeAsync(30);
    const error = await waiting;
    expect(error.status).toBe(429);
    expect(error.retryAfterSeconds).toBe(1);
    expect(error.details).toMatchObject({ limit: `key:${LIMIT_KEYS.conc}`, limit_value: 1, remaining: 0 });
    expect(behind.headers).toEqual({});
    expect(audits.filter((event) => event.requestId === 'r2').map((event) => event.kind)).toEqual([
      AuditEventKind.QUEUED,
      AuditEventKind.QUEUE_TIMED_OUT,
    ]);
    expect(audits.at(-1)).toMatchObject({ attributes: { queued_behind: 'true', waited_ms: '30' } });
    expect(first.state()).toBe('pending');
    holder.finish({ responded: false });
    (await first.promise).finish({ responded: false });
    await controller.close();
  });

  it('does not queue a request whose limits have nobody waiting (another key of the tenant)', async () => {
    vi.useFakeTimers({ now: T0 });
    const { controller } = setup();
    const holder = await controller.admit(input(LIMIT_KEYS.conc, { requestId: 'r0' }));
    const queued = track(controller.admit(input(LIMIT_KEYS.conc, { requestId: 'r1' })));
    await vi.advanceTimersByTimeAsync(0);
    const other = await controller.admit(input(LIMIT_KEYS.rate));
    expect(other.queueMs).toBe(0);
    other.finish({ responded: false });
    holder.finish({ responded: false });
    (await queued.promise).finish({ responded: false });
    await controller.close();
  });

  it('answers 429 (QUEUE_TIMED_OUT) when the request deadline caps the wait, not the deadline’s 504', async () => {
    vi.useFakeTimers({ now: T0 });
    const { controller, audits } = setup();
    const holder = await controller.admit(input(LIMIT_KEYS.conc, { requestId: 'r0' }));
    // 300 ms left before the deadline, below the policy's max wait (500 ms): the deadline caps the wait.
    const signal = createRequestSignal({ timers: systemTimers, now: () => Date.now() }, Date.now() + 300);
    const waiting = rejection(
      controller.admit(
        input(LIMIT_KEYS.conc, { requestId: 'r1', signal, remainingMs: () => signal.remainingMs() }),
      ),
    );
    await vi.advanceTimersByTimeAsync(300);
    const error = await waiting;
    expect(error.status).toBe(429);
    expect(error.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(audits.filter((event) => event.requestId === 'r1').map((event) => event.kind)).toEqual([
      AuditEventKind.QUEUED,
      AuditEventKind.QUEUE_TIMED_OUT,
    ]);
    signal.dispose();
    holder.finish({ responded: false });
    await controller.close();
  });
});
