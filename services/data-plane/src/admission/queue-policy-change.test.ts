import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Admission } from './admission-ticket.js';
import { T0, input, setup } from './admission-controller.test-support.js';
import { LIMIT_KEYS, buildLimitsPolicy } from './limits-policy.test-support.js';

// A policy that changes a concurrency limit while requests wait for it: the waiting requests are retried
// against the limit in force, not the one captured when they arrived. Fake timers: retry ticks and max
// waits (500 ms) run on vi's clock.
afterEach(() => {
  vi.useRealTimers();
});

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

const concPolicy = (concMax: number | null, version: bigint) =>
  buildLimitsPolicy({ queueWaitMs: 500, concMax, version });

describe('queued requests and a new policy', () => {
  it('a queued request is admitted at its next retry once a new policy raises the limit it waits for', async () => {
    vi.useFakeTimers({ now: T0 });
    const { controller } = setup();
    const old = concPolicy(1, 1n);
    const raised = concPolicy(2, 2n);
    const holder = await controller.admit(input(LIMIT_KEYS.conc, { requestId: 'r0', policy: old }));
    const queued = track(controller.admit(input(LIMIT_KEYS.conc, { requestId: 'r1', policy: old })));
    await vi.advanceTimersByTimeAsync(0);
    expect(queued.state()).toBe('pending');
    // The new policy reaches this replica with its first request, which queues behind r1.
    const arrival = track(controller.admit(input(LIMIT_KEYS.conc, { requestId: 'r2', policy: raised })));
    // One retry round (50 ms): before the fix r1 was retried against its old limit of 1 and kept the whole
    // key's queue waiting until its max wait, then answered 429.
    await vi.advanceTimersByTimeAsync(60);
    expect(queued.state()).toBe('admitted');
    expect(arrival.state()).toBe('pending');
    holder.finish({ responded: false });
    (await queued.promise).finish({ responded: false });
    (await arrival.promise).finish({ responded: false });
    await controller.close();
  });

  it('a queued request is admitted at its next retry once a new policy removes the limit it waits for', async () => {
    vi.useFakeTimers({ now: T0 });
    const { controller } = setup();
    const old = concPolicy(1, 1n);
    const unlimited = concPolicy(null, 2n);
    const holder = await controller.admit(input(LIMIT_KEYS.conc, { requestId: 'r0', policy: old }));
    const queued = track(controller.admit(input(LIMIT_KEYS.conc, { requestId: 'r1', policy: old })));
    await vi.advanceTimersByTimeAsync(0);
    expect(queued.state()).toBe('pending');
    // The new policy's first request has no limit to wait for: admitted at once, and r1 at its next retry.
    const arrival = track(controller.admit(input(LIMIT_KEYS.conc, { requestId: 'r2', policy: unlimited })));
    await vi.advanceTimersByTimeAsync(0);
    expect(arrival.state()).toBe('admitted');
    await vi.advanceTimersByTimeAsync(60);
    expect(queued.state()).toBe('admitted');
    holder.finish({ responded: false });
    (await queued.promise).finish({ responded: false });
    (await arrival.promise).finish({ responded: false });
    await controller.close();
  });

  it('a queued request is not admitted above a limit a new policy lowered', async () => {
    vi.useFakeTimers({ now: T0 });
    const { controller } = setup();
    const old = concPolicy(2, 1n);
    const lowered = concPolicy(1, 2n);
    const first = await controller.admit(input(LIMIT_KEYS.conc, { requestId: 'r0', policy: old }));
    const second = await controller.admit(input(LIMIT_KEYS.conc, { requestId: 'r1', policy: old }));
    const queued = track(controller.admit(input(LIMIT_KEYS.conc, { requestId: 'r2', policy: old })));
    await vi.advanceTimersByTimeAsync(0);
    const arrival = track(controller.admit(input(LIMIT_KEYS.conc, { requestId: 'r3', policy: lowered })));
    await vi.advanceTimersByTimeAsync(0);
    // One slot frees: r1 still runs, and the limit is now 1, so r2 must keep waiting (before the fix it was
    // admitted against its old limit of 2: two requests ran under a limit of 1).
    first.finish({ responded: false });
    await vi.advanceTimersByTimeAsync(60);
    expect(queued.state()).toBe('pending');
    second.finish({ responded: false });
    await vi.advanceTimersByTimeAsync(0);
    expect(queued.state()).toBe('admitted');
    expect(arrival.state()).toBe('pending');
    (await queued.promise).finish({ responded: false });
    (await arrival.promise).finish({ responded: false });
    await controller.close();
  });
});
