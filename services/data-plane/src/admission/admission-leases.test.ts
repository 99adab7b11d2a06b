import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMemoryLimitStore, type LimitStore } from '@api-router/limits';
import { delay, systemTimers } from '../timers.js';
import type { Admission } from './admission-ticket.js';
import { T0, input, setup } from './admission-controller.test-support.js';
import { LIMIT_KEYS, buildLimitsPolicy } from './limits-policy.test-support.js';

// Clients that leave at any point of admission (during a store call, during an audit append, while queued,
// between the admission and the end of the request) never leak a concurrency lease nor end one twice: once
// every request is over, the key's one slot is free and every reservation ended exactly once. Fake timers:
// store calls, audit appends, holds and aborts are all scheduled on vi's clock. Requests arrive under two
// policy versions (a limit raised while others wait).
afterEach(() => {
  vi.useRealTimers();
});

/** The memory store with every call answered after a delay from `delays` (cycled), counting ends. */
function slowStore(delays: readonly number[]): LimitStore & { ends: Map<string, number>; inner: LimitStore } {
  const inner = createMemoryLimitStore({ clock: { now: () => Date.now() } });
  let call = 0;
  const later = async <T>(work: () => Promise<T>): Promise<T> => {
    await delay(systemTimers, delays[call++ % delays.length] ?? 0);
    return work();
  };
  const ends = new Map<string, number>();
  const count = (requestId: string): void => {
    ends.set(requestId, (ends.get(requestId) ?? 0) + 1);
  };
  return {
    ends,
    inner,
    admit: (request) => later(() => inner.admit(request)),
    settle: (reservation, usage) =>
      later(() => (count(reservation.requestId), inner.settle(reservation, usage))),
    release: (reservation) => later(() => (count(reservation.requestId), inner.release(reservation))),
    getBudget: (ref) => inner.getBudget(ref),
  };
}

const requestArbitrary = fc.record({
  arrivesAtMs: fc.integer({ min: 0, max: 300 }),
  // When the client leaves (undefined: it stays until its request is over).
  leavesAfterMs: fc.option(fc.integer({ min: 0, max: 400 }), { nil: undefined }),
  holdsForMs: fc.integer({ min: 0, max: 200 }),
  // Which policy the request arrived under: queued requests are retried under the newest one.
  policy: fc.constantFrom(0, 1),
});

/** Two policy versions: the key's limit is 1, then 2. */
const POLICIES = [
  buildLimitsPolicy({ queueWaitMs: 500, concMax: 1, version: 1n }),
  buildLimitsPolicy({ queueWaitMs: 500, concMax: 2, version: 2n }),
];

describe('concurrency leases when clients leave at any await point', () => {
  it('are each ended exactly once, and the slot is free once every request is over', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(requestArbitrary, { minLength: 1, maxLength: 6 }),
        fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 0, max: 30 }),
        async (requests, storeDelays, auditDelayMs) => {
          vi.useFakeTimers({ now: T0 });
          const store = slowStore(storeDelays);
          const { controller } = setup({ store, auditDelayMs });
          const admitted: string[] = [];
          const runs = requests.map(async (request, index) => {
            await delay(systemTimers, request.arrivesAtMs);
            const client = new AbortController();
            if (request.leavesAfterMs !== undefined) {
              const leaveAt = request.leavesAfterMs;
              void delay(systemTimers, leaveAt).then(() => client.abort(new Error('client closed')));
            }
            let admission: Admission;
            try {
              admission = await controller.admit(
                input(LIMIT_KEYS.conc, {
                  requestId: `r${String(index)}`,
                  signal: client.signal,
                  policy: POLICIES[request.policy],
                }),
              );
            } catch {
              return;
            }
            admitted.push(`r${String(index)}`);
            // The request runs until its hold ends or its client leaves, then ends its admission once.
            if (!client.signal.aborted) {
              await Promise.race([
                delay(systemTimers, request.holdsForMs),
                new Promise<void>((resolve) => client.signal.addEventListener('abort', () => resolve())),
              ]);
            }
            admission.finish({ responded: false });
          });
          await vi.advanceTimersByTimeAsync(5_000);
          await Promise.all(runs);
          await controller.close();
          // Every admission ended once: the request's own, or a discarded retry's (client gone meanwhile).
          for (const [requestId, count] of store.ends) expect(count, requestId).toBe(1);
          const ended = [...store.ends.keys()].map((admissionId) => admissionId.split('~')[0]);
          for (const requestId of admitted) expect(ended).toContain(requestId);
          // The key's one slot is free again.
          const probe = await store.inner.admit({
            requestId: 'probe',
            plan: {
              partition: 'acme',
              checks: [{ kind: 'concurrency', id: `key:${LIMIT_KEYS.conc}`, max: 1 }],
            },
            costs: { tokens: 0, costMicros: 0 },
            reservationTtlMs: 1_000,
          });
          vi.useRealTimers();
          expect(probe).toMatchObject({ allowed: true });
        },
      ),
      { numRuns: 150 },
    );
  });
});
