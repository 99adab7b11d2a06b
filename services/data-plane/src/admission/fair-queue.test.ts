import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { systemTimers } from '../timers.js';
import { FairQueue, type QueueAttempt, type QueueEntry, type QueueOutcome } from './fair-queue.js';

// Fake timers: the queue's retry ticks and max-wait timers run on vi's clock, never on the wall clock.
beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

const RETRY_MS = 100;

function createQueue(maxLength = 100): FairQueue<string> {
  return new FairQueue<string>({
    timers: systemTimers,
    now: () => Date.now(),
    random: () => 0,
    retryIntervalMs: { min: RETRY_MS, max: RETRY_MS },
    maxLength,
  });
}

/** Shared capacity: an attempt succeeds while `free` > 0 (taking one), else stays blocked. */
class Slots {
  free = 0;
  readonly admitted: string[] = [];
  attemptFor(name: string): () => Promise<QueueAttempt<string>> {
    return () => {
      if (this.free <= 0) return Promise.resolve({ done: false });
      this.free -= 1;
      this.admitted.push(name);
      return Promise.resolve({ done: true, value: name });
    };
  }
}

function entry(
  overrides: Partial<QueueEntry<string>> & Pick<QueueEntry<string>, 'attempt'>,
): QueueEntry<string> {
  return {
    tenantId: 'a',
    keyId: 'k',
    limitId: 'key:k',
    tenantMaxLength: undefined,
    keyMaxLength: undefined,
    maxWaitMs: 10_000,
    signal: new AbortController().signal,
    discard: () => undefined,
    ...overrides,
  };
}

describe('FairQueue', () => {
  it('serves two tenants round-robin, whatever their queue lengths', async () => {
    const queue = createQueue();
    const slots = new Slots();
    const waits: Promise<QueueOutcome<string>>[] = [];
    for (const name of ['a1', 'a2', 'a3']) {
      waits.push(queue.wait(entry({ tenantId: 'a', attempt: slots.attemptFor(name) })));
    }
    for (const name of ['b1', 'b2']) {
      waits.push(queue.wait(entry({ tenantId: 'b', attempt: slots.attemptFor(name) })));
    }
    expect(queue.length).toBe(5);
    for (let round = 0; round < 5; round += 1) {
      slots.free = 1; // one slot frees per retry round (on another replica: only the timer finds it)
      await vi.advanceTimersByTimeAsync(RETRY_MS);
    }
    expect(slots.admitted).toEqual(['a1', 'b1', 'a2', 'b2', 'a3']);
    const outcomes = await Promise.all(waits);
    expect(outcomes.map((outcome) => outcome.kind)).toEqual(Array(5).fill('admitted'));
    expect(queue.length).toBe(0);
  });

  it('keeps FIFO order within a tenant and does not let one key block the tenant’s other keys', async () => {
    const queue = createQueue();
    const tried: string[] = [];
    const blocked = (name: string) => () => {
      tried.push(name);
      return Promise.resolve({ done: false } as const);
    };
    void queue.wait(entry({ keyId: 'k1', attempt: blocked('k1-first') }));
    void queue.wait(entry({ keyId: 'k1', attempt: blocked('k1-second') }));
    void queue.wait(entry({ keyId: 'k2', attempt: blocked('k2-first') }));
    await vi.advanceTimersByTimeAsync(RETRY_MS);
    expect(tried).toEqual(['k1-first', 'k2-first']);
    queue.close();
  });

  it('gives a slot freed on this replica to the oldest request of the tenant, whatever its key', async () => {
    const queue = createQueue();
    const slots = new Slots();
    const waits = [
      queue.wait(entry({ keyId: 'k1', limitId: 'tenant:a', attempt: slots.attemptFor('k1-first') })),
      queue.wait(entry({ keyId: 'k2', limitId: 'tenant:a', attempt: slots.attemptFor('k2-first') })),
      queue.wait(entry({ keyId: 'k1', limitId: 'tenant:a', attempt: slots.attemptFor('k1-second') })),
    ];
    for (let freed = 0; freed < 3; freed += 1) {
      slots.free = 1;
      queue.slotFreed('a');
      await vi.advanceTimersByTimeAsync(0);
    }
    expect(slots.admitted).toEqual(['k1-first', 'k2-first', 'k1-second']);
    expect((await Promise.all(waits)).map((outcome) => outcome.kind)).toEqual(Array(3).fill('admitted'));
  });

  it('tells which limits have waiting requests, following the limit a blocked retry names', async () => {
    const queue = createQueue();
    expect(queue.waitingFor(['key:k1', 'tenant:a'])).toBeUndefined();
    const blocked: { by?: string } = {};
    const controller = new AbortController();
    void queue.wait(
      entry({
        keyId: 'k1',
        limitId: 'key:k1',
        signal: controller.signal,
        attempt: () =>
          Promise.resolve(blocked.by === undefined ? { done: false } : { done: false, limitId: blocked.by }),
      }),
    );
    expect(queue.waitingFor(['tenant:a', 'key:k1'])).toBe('key:k1');
    expect(queue.waitingFor(['key:k2', 'tenant:a'])).toBeUndefined();
    await vi.advanceTimersByTimeAsync(RETRY_MS); // blocked again, by the same limit (none named)
    expect(queue.waitingFor(['key:k1'])).toBe('key:k1');
    blocked.by = 'tenant:a';
    await vi.advanceTimersByTimeAsync(RETRY_MS);
    expect(queue.waitingFor(['key:k1'])).toBeUndefined();
    expect(queue.waitingFor(['key:k2', 'tenant:a'])).toBe('tenant:a');
    controller.abort(new Error('gone'));
    expect(queue.waitingFor(['key:k1', 'tenant:a'])).toBeUndefined();
  });

  it('retries a tenant at once when this replica frees one of its slots', async () => {
    const queue = createQueue();
    const slots = new Slots();
    const wait = queue.wait(entry({ attempt: slots.attemptFor('a1') }));
    slots.free = 1;
    queue.slotFreed('other-tenant');
    await vi.advanceTimersByTimeAsync(0);
    expect(slots.admitted).toEqual([]);
    queue.slotFreed('a');
    await vi.advanceTimersByTimeAsync(0);
    expect(await wait).toEqual({ kind: 'admitted', value: 'a1', waitedMs: 0 });
  });

  it('does not lose a slot freed while the key’s oldest request is being tried', async () => {
    const queue = createQueue();
    const slots = new Slots();
    const waits = [
      queue.wait(entry({ attempt: slots.attemptFor('k-first') })),
      queue.wait(entry({ attempt: slots.attemptFor('k-second') })),
    ];
    // Two requests of the tenant end at once on this replica: two slots free, two wake-ups.
    slots.free = 2;
    queue.slotFreed('a');
    queue.slotFreed('a'); // k-first's try is still in flight: this one must not be lost
    await vi.advanceTimersByTimeAsync(0);
    expect(slots.admitted).toEqual(['k-first', 'k-second']);
    expect((await Promise.all(waits)).map((outcome) => outcome.kind)).toEqual(['admitted', 'admitted']);
  });

  it('tries again at once when the slot freed after the store answered a try still in flight', async () => {
    const queue = createQueue();
    let slotFree = false;
    const answers: (() => void)[] = [];
    const wait = queue.wait(
      entry({
        attempt: () => {
          // The store decides when it gets the call; the answer arrives later.
          const result: QueueAttempt<string> = slotFree ? { done: true, value: 'k' } : { done: false };
          return new Promise((resolve) => answers.push(() => resolve(result)));
        },
      }),
    );
    await vi.advanceTimersByTimeAsync(RETRY_MS); // the timer's try: the slot is still taken
    expect(answers).toHaveLength(1);
    slotFree = true;
    queue.slotFreed('a'); // freed on this replica while that try's answer is on its way
    answers[0]!();
    await vi.advanceTimersByTimeAsync(0);
    expect(answers).toHaveLength(2);
    answers[1]!();
    expect(await wait).toEqual({ kind: 'admitted', value: 'k', waitedMs: RETRY_MS });
  });

  it('keeps a slot freed on this replica for the oldest request of a tenant limit while it is being tried', async () => {
    const queue = createQueue();
    const slots = new Slots();
    const answers: (() => void)[] = [];
    // The oldest request's store call: decided when sent, answered later.
    const delayed: () => Promise<QueueAttempt<string>> = () => {
      const result = slots.attemptFor('k1-first')();
      return new Promise((resolve) => answers.push(() => void result.then(resolve)));
    };
    const first = queue.wait(entry({ keyId: 'k1', limitId: 'tenant:a', attempt: delayed }));
    await vi.advanceTimersByTimeAsync(RETRY_MS); // the timer's try, sent while no slot is free
    expect(answers).toHaveLength(1);
    // A younger request of another key queues behind it for the same tenant limit.
    const second = queue.wait(
      entry({ keyId: 'k2', limitId: 'tenant:a', attempt: slots.attemptFor('k2-second') }),
    );
    slots.free = 1;
    queue.slotFreed('a');
    answers[0]!(); // the first try's answer: blocked (the slot freed after it was decided)
    await vi.advanceTimersByTimeAsync(0);
    answers[1]?.();
    await vi.advanceTimersByTimeAsync(0);
    expect(slots.admitted).toEqual(['k1-first']);
    expect((await first).kind).toBe('admitted');
    queue.close();
    expect((await second).kind).toBe('closed');
  });

  it('times out after the max wait', async () => {
    const queue = createQueue();
    const wait = queue.wait(
      entry({ maxWaitMs: 750, attempt: () => Promise.resolve({ done: false } as const) }),
    );
    await vi.advanceTimersByTimeAsync(749);
    expect(queue.length).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(await wait).toEqual({ kind: 'timed_out', waitedMs: 750 });
    expect(queue.length).toBe(0);
  });

  it('answers full at once past the tenant, key or replica bound', async () => {
    const queue = createQueue(3);
    const blocked = () => Promise.resolve({ done: false } as const);
    void queue.wait(entry({ tenantId: 'a', keyId: 'k1', tenantMaxLength: 2, attempt: blocked }));
    void queue.wait(entry({ tenantId: 'a', keyId: 'k2', tenantMaxLength: 2, attempt: blocked }));
    expect(
      await queue.wait(entry({ tenantId: 'a', keyId: 'k3', tenantMaxLength: 2, attempt: blocked })),
    ).toEqual({
      kind: 'full',
      bound: 'tenant',
    });
    expect(
      await queue.wait(entry({ tenantId: 'a', keyId: 'k1', keyMaxLength: 1, attempt: blocked })),
    ).toEqual({
      kind: 'full',
      bound: 'key',
    });
    void queue.wait(entry({ tenantId: 'b', attempt: blocked }));
    expect(await queue.wait(entry({ tenantId: 'c', attempt: blocked }))).toEqual({
      kind: 'full',
      bound: 'replica',
    });
    expect(queue.length).toBe(3);
    queue.close();
  });

  it('removes a request whose client disconnects', async () => {
    const queue = createQueue();
    const controller = new AbortController();
    const attempt = vi.fn(() => Promise.resolve({ done: false } as const));
    const wait = queue.wait(entry({ signal: controller.signal, attempt }));
    await vi.advanceTimersByTimeAsync(50);
    const reason = new Error('client gone');
    controller.abort(reason);
    expect(await wait).toEqual({ kind: 'aborted', reason, waitedMs: 50 });
    expect(queue.length).toBe(0);
    await vi.advanceTimersByTimeAsync(10 * RETRY_MS);
    expect(attempt).not.toHaveBeenCalled();
  });

  it('hands an admission that arrives after the request left to discard (so it is released)', async () => {
    const queue = createQueue();
    let finishAttempt: (result: QueueAttempt<string>) => void = () => undefined;
    const discard = vi.fn();
    const wait = queue.wait(
      entry({
        maxWaitMs: RETRY_MS + 10,
        attempt: () =>
          new Promise((resolve) => {
            finishAttempt = resolve;
          }),
        discard,
      }),
    );
    await vi.advanceTimersByTimeAsync(RETRY_MS + 10);
    expect((await wait).kind).toBe('timed_out');
    finishAttempt({ done: true, value: 'late' });
    await vi.advanceTimersByTimeAsync(0);
    expect(discard).toHaveBeenCalledWith('late');
  });

  it('ends a wait whose attempt fails with that failure', async () => {
    const queue = createQueue();
    const failure = new Error('store down');
    const wait = queue.wait(entry({ attempt: () => Promise.reject(failure) }));
    await vi.advanceTimersByTimeAsync(RETRY_MS);
    expect(await wait).toEqual({ kind: 'failed', error: failure, waitedMs: RETRY_MS });
  });

  it('ends every wait with closed on close, and queues nothing afterwards', async () => {
    const queue = createQueue();
    const blocked = () => Promise.resolve({ done: false } as const);
    const wait = queue.wait(entry({ attempt: blocked }));
    queue.close();
    expect(await wait).toEqual({ kind: 'closed', waitedMs: 0 });
    expect(await queue.wait(entry({ attempt: blocked }))).toEqual({ kind: 'closed', waitedMs: 0 });
  });
});
