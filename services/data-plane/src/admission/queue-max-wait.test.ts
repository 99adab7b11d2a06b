import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuditEventKind } from '@api-router/contracts';
import { T0, input, rejection, setup } from './admission-controller.test-support.js';
import { LIMIT_KEYS } from './limits-policy.test-support.js';

// What the policy's max wait bounds (docs/limits.md, "The fair queue"): the time in the queue, not the time
// to the 429. The QUEUED event is appended before the wait and QUEUE_TIMED_OUT after it, before the answer;
// an append's duration is the disk's, so neither can be fitted inside the bound. Fake timers: audit appends
// take 40 ms of vi's clock, the policy's max wait is 500 ms (admission-controller.test-support.ts).
const APPEND_MS = 40;
const MAX_WAIT_MS = 500;

afterEach(() => {
  vi.useRealTimers();
});

describe('the fair queue max wait', () => {
  it('bounds the time queued; the 429 comes one QUEUED and one QUEUE_TIMED_OUT append later', async () => {
    vi.useFakeTimers({ now: T0 });
    const { controller, audits } = setup({ auditDelayMs: APPEND_MS });
    const holder = await controller.admit(input(LIMIT_KEYS.conc, { requestId: 'r0' }));
    const answered: { atMs?: number } = {};
    const waiting = rejection(
      controller.admit(input(LIMIT_KEYS.conc, { requestId: 'r1' })).finally(() => {
        answered.atMs = Date.now();
      }),
    );

    await vi.advanceTimersByTimeAsync(APPEND_MS + MAX_WAIT_MS);
    const events = () => audits.filter((event) => event.requestId === 'r1');
    expect(events().map((event) => event.kind)).toEqual([
      AuditEventKind.QUEUED,
      AuditEventKind.QUEUE_TIMED_OUT,
    ]);
    expect(events()[1]?.attributes?.waited_ms).toBe(String(MAX_WAIT_MS));
    await vi.advanceTimersByTimeAsync(APPEND_MS - 1);
    expect(answered.atMs).toBeUndefined(); // the QUEUE_TIMED_OUT append is not durable yet
    await vi.advanceTimersByTimeAsync(1);
    expect((await waiting).status).toBe(429);
    expect(answered.atMs! - T0).toBe(APPEND_MS + MAX_WAIT_MS + APPEND_MS);

    holder.finish({ responded: false });
    await controller.close();
  });
});
