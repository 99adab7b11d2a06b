import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createMemoryLimitStore,
  createRedisLimitStore,
  type AdmitAllowed,
  type AdmitDecision,
  type LimitStore,
  type TokensCheck,
} from '../src/index.js';
import { createRedisFixture, type RedisFixture } from './redis-fixture.js';

// A new policy changes a token bucket's limits while requests admitted under the old one still run: their
// settlements must not apply the old limits to the bucket (neither refill it at the old rate nor cut it to
// the old burst). Both stores, one fake clock.
const T0 = Date.UTC(2025, 5, 15, 12);

let fixture: RedisFixture;
beforeAll(() => {
  fixture = createRedisFixture('policy-change');
});
afterAll(async () => {
  await fixture.cleanup();
});

let runs = 0;
const stores: Record<string, (clock: { now(): number }) => LimitStore> = {
  memory: (clock) => createMemoryLimitStore({ clock }),
  redis: (clock) =>
    createRedisLimitStore({
      redis: fixture.connect(),
      keyPrefix: `${fixture.keyPrefix}${String(runs++)}:`,
      commandTimeoutMs: 10_000,
      clock,
    }),
};

function allowed(decision: AdmitDecision): AdmitAllowed {
  if (!decision.allowed) throw new Error(`expected an allowed admission, denied by ${decision.deniedBy.id}`);
  return decision;
}

describe.each(Object.keys(stores))(
  '%s store: settlement of a reservation admitted under an older policy',
  (name) => {
    function setup() {
      let nowMs = T0;
      const store = stores[name]!({ now: () => nowMs });
      let sequence = 0;
      const admit = (check: TokensCheck, tokens: number): Promise<AdmitDecision> =>
        store.admit({
          requestId: `r${String(++sequence)}`,
          plan: { partition: 'acme', checks: [check] },
          costs: { tokens, costMicros: 0 },
          reservationTtlMs: 60_000,
        });
      return { store, admit, advance: (ms: number) => (nowMs += ms) };
    }

    it('a lowered token rate is not refilled at the old rate by the old requests’ settlements', async () => {
      const { store, admit, advance } = setup();
      const before: TokensCheck = { kind: 'tokens', id: 'tpm', tokensPerMinute: 600_000, burst: 100_000 };
      const after: TokensCheck = { kind: 'tokens', id: 'tpm', tokensPerMinute: 60, burst: 1_000 };
      const running = allowed(await admit(before, 1_000));
      // The new policy: its first request takes the whole (new) burst.
      allowed(await admit(after, 1_000));
      advance(1_000);
      await store.settle(running.reservation, { tokens: 1_000, costMicros: 0 });
      // One second at 60 tokens per minute refilled one token, not a new burst.
      expect(await admit(after, 1_000)).toMatchObject({ allowed: false, deniedBy: { id: 'tpm' } });
    });

    it('a raised token burst is not cut back to the old burst by the old requests’ settlements', async () => {
      const { store, admit, advance } = setup();
      const before: TokensCheck = { kind: 'tokens', id: 'tpm', tokensPerMinute: 600_000, burst: 1_000 };
      const after: TokensCheck = { kind: 'tokens', id: 'tpm', tokensPerMinute: 600_000, burst: 10_000 };
      const running = allowed(await admit(before, 1_000));
      advance(1_000);
      // The new policy's bucket has refilled to its burst: 10 000 tokens, 9 999 after this request.
      allowed(await admit(after, 1));
      // The refund fills it again (capped at the new burst).
      await store.release(running.reservation);
      expect(await admit(after, 5_000)).toMatchObject({ allowed: true, checks: [{ remaining: 5_000 }] });
    });
  },
);
