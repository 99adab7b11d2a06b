import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createMemoryLimitStore,
  LimitStoreUnavailableError,
  type AdmitDecision,
  type LimitStore,
} from '@api-router/limits';
import { delay, systemTimers } from '../timers.js';
import { T0, input, setup } from './admission-controller.test-support.js';
import { LIMIT_KEYS } from './limits-policy.test-support.js';

// An admission nobody will use — a queued request's retry admitted after its client left — is released in
// the background. A store failure on that release is retried like a finished request's release (100 ms,
// 500 ms, 2 s by default): before, it was tried once, and one Redis hiccup held the key's concurrency slot
// and the reservation's money until the reservation expired (60 s here, 120 s by default), a slot nobody
// used while the key's next requests queued and timed out. Fake timers: no wall-clock waits.
afterEach(() => {
  vi.useRealTimers();
});

describe('releasing an admission its request left behind', () => {
  it('retries a release the store failed, so the slot frees long before the reservation expires', async () => {
    vi.useFakeTimers({ now: T0 });
    const inner = createMemoryLimitStore({ clock: { now: () => Date.now() } });
    let admits = 0;
    let releases = 0;
    const store: LimitStore = {
      ...inner,
      admit: async (request): Promise<AdmitDecision> => {
        admits += 1;
        // The queued request's retry (the third admission) is answered only after its client left.
        if (admits === 3) await delay(systemTimers, 20);
        return inner.admit(request);
      },
      settle: (reservation, usage) => inner.settle(reservation, usage),
      release: (reservation) => {
        releases += 1;
        // The first release is the holder's own (fine); the second, of the discarded admission, fails.
        return releases === 2
          ? Promise.reject(new LimitStoreUnavailableError('release', 'timeout'))
          : inner.release(reservation);
      },
      getBudget: (ref) => inner.getBudget(ref),
    };
    const { controller } = setup({ store, settleRetryDelaysMs: [100, 500, 2000] });
    const holder = await controller.admit(input(LIMIT_KEYS.conc, { requestId: 'r0' }));
    const client = new AbortController();
    const waiting = controller
      .admit(input(LIMIT_KEYS.conc, { requestId: 'r1', signal: client.signal }))
      .catch((reason: unknown) => reason);
    await vi.advanceTimersByTimeAsync(10);
    // The slot frees: the queue retries r1 at once; its client leaves while that retry is in flight.
    holder.finish({ responded: false });
    await vi.advanceTimersByTimeAsync(5);
    client.abort(new Error('client closed'));
    expect(await waiting).toMatchObject({ message: 'client closed' });
    // The retry's admission arrives, is discarded, its release fails once and is retried 100 ms later.
    await vi.advanceTimersByTimeAsync(200);
    expect(releases).toBe(3);
    const next = await controller.admit(input(LIMIT_KEYS.conc, { requestId: 'r2' }));
    expect(next.queueMs).toBe(0);
    next.finish({ responded: false });
    await controller.close();
  });
});
