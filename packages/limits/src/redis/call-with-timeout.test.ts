import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LimitStoreUnavailableError } from '../limit-store-unavailable-error.js';
import { CallDeadlines } from './call-with-timeout.js';

/** A call whose answer the test gives (or never gives). */
function controlled<T>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
} {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Settles `promise` into a value the test can inspect without awaiting it. */
function watch<T>(promise: Promise<T>): { outcome?: { value: T } | { error: unknown } } {
  const watched: { outcome?: { value: T } | { error: unknown } } = {};
  promise.then(
    (value) => (watched.outcome = { value }),
    (error: unknown) => (watched.outcome = { error }),
  );
  return watched;
}

function replyError(message: string): Error {
  const error = new Error(message);
  error.name = 'ReplyError';
  return error;
}

describe('CallDeadlines', () => {
  // The fake clock runs an immediate scheduled by a timer 1 ms later: a timeout decided at a deadline shows
  // 1 ms after it.
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('resolves with the answer given before the deadline', async () => {
    const deadlines = new CallDeadlines(250);
    const call = controlled<number>();
    const result = deadlines.run('admit', () => call.promise);
    await vi.advanceTimersByTimeAsync(200);
    call.resolve(7);
    await expect(result).resolves.toBe(7);
    // The timer later finds nothing to expire.
    await vi.advanceTimersByTimeAsync(1000);
  });

  it('rejects with a timeout at its deadline, and drops the late answer', async () => {
    const deadlines = new CallDeadlines(250);
    const call = controlled<number>();
    const watched = watch(deadlines.run('settle', () => call.promise));
    await vi.advanceTimersByTimeAsync(249);
    expect(watched.outcome).toBeUndefined();
    await vi.advanceTimersByTimeAsync(2);
    expect(watched.outcome).toEqual({ error: expect.any(LimitStoreUnavailableError) });
    expect((watched.outcome as { error: LimitStoreUnavailableError }).error).toMatchObject({
      operation: 'settle',
      failure: 'timeout',
    });
    call.resolve(1);
    call.reject(new Error('late'));
    await vi.advanceTimersByTimeAsync(1000);
  });

  it('gives each of many calls its own deadline: later calls are not cut short', async () => {
    const deadlines = new CallDeadlines(250);
    const first = watch(deadlines.run('a', () => controlled<number>().promise));
    await vi.advanceTimersByTimeAsync(100);
    const answeredCall = controlled<number>();
    const answered = watch(deadlines.run('b', () => answeredCall.promise));
    await vi.advanceTimersByTimeAsync(50);
    const third = watch(deadlines.run('c', () => controlled<number>().promise));
    await vi.advanceTimersByTimeAsync(101); // t = 251: past the first one's deadline
    expect(first.outcome).toMatchObject({ error: { operation: 'a', failure: 'timeout' } });
    expect(third.outcome).toBeUndefined();
    answeredCall.resolve(2);
    await vi.advanceTimersByTimeAsync(0);
    expect(answered.outcome).toEqual({ value: 2 });
    await vi.advanceTimersByTimeAsync(148); // t = 399
    expect(third.outcome).toBeUndefined();
    await vi.advanceTimersByTimeAsync(2); // t = 401: past the third one's deadline (400)
    expect(third.outcome).toMatchObject({ error: { operation: 'c', failure: 'timeout' } });
    // Calls after a quiet period get a timer again.
    const later = watch(deadlines.run('d', () => controlled<number>().promise));
    await vi.advanceTimersByTimeAsync(249);
    expect(later.outcome).toBeUndefined();
    await vi.advanceTimersByTimeAsync(2);
    expect(later.outcome).toMatchObject({ error: { operation: 'd', failure: 'timeout' } });
  });

  it('lets an answer read in the same event loop turn as the deadline win', async () => {
    const deadlines = new CallDeadlines(250);
    const call = controlled<number>();
    const watched = watch(deadlines.run('admit', () => call.promise));
    // Runs at the deadline after the deadline timer (as a reply read in the poll phase would), before the
    // check phase in which the timeout is decided.
    setTimeout(() => call.resolve(5), 250);
    await vi.advanceTimersByTimeAsync(250);
    expect(watched.outcome).toEqual({ value: 5 });
  });

  it('turns failures into LimitStoreUnavailableError: reply for Redis errors, connection for the rest', async () => {
    const deadlines = new CallDeadlines(250);
    await expect(
      deadlines.run('admit', () => Promise.reject(replyError('ERR something'))),
    ).rejects.toMatchObject({ name: 'LimitStoreUnavailableError', failure: 'reply', operation: 'admit' });
    await expect(
      deadlines.run('settle', () => Promise.reject(new Error('Connection is closed.'))),
    ).rejects.toMatchObject({ failure: 'connection', cause: { message: 'Connection is closed.' } });
    await expect(
      deadlines.run('release', () => {
        throw new Error('thrown');
      }),
    ).rejects.toMatchObject({ failure: 'connection', operation: 'release' });
  });

  it('refuses a timeout that is not positive', () => {
    expect(() => new CallDeadlines(0)).toThrow(RangeError);
  });
});
