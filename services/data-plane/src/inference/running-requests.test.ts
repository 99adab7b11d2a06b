import { describe, expect, it } from 'vitest';
import { RunningRequests, type CountedRequest } from './running-requests.js';

/** Whether `settled()` has resolved after the pending microtasks ran. */
async function isSettled(running: RunningRequests): Promise<boolean> {
  let settled = false;
  void running.settled().then(() => {
    settled = true;
  });
  await new Promise((resolve) => setImmediate(resolve));
  return settled;
}

describe('RunningRequests', () => {
  it('is settled at once when nothing was counted', async () => {
    expect(await isSettled(new RunningRequests())).toBe(true);
  });

  it('ends a request refused before its handler once, however often it is ended', async () => {
    const running = new RunningRequests();
    const refused: CountedRequest = { counted: false };
    const other: CountedRequest = { counted: false };
    running.begin(refused);
    running.begin(other);
    running.end(refused);
    running.end(refused); // e.g. the error handler after a hook already ended it
    expect(await isSettled(running)).toBe(false);
    running.end(other);
    expect(await isSettled(running)).toBe(true);
  });

  it('counts a tracked handler until its promise settles, and an end after it takes over is a no-op', async () => {
    const running = new RunningRequests();
    const request: CountedRequest = { counted: false };
    let fail: (error: Error) => void = () => undefined;
    const handler = running.track(
      (_request: CountedRequest, _reply: undefined) =>
        new Promise((_resolve, reject) => {
          fail = reject;
        }),
      (counted) => counted,
    );
    running.begin(request);
    const handled = handler(request, undefined);
    running.end(request); // e.g. the onError hook of a handler that is still running
    expect(await isSettled(running)).toBe(false);
    fail(new Error('upstream'));
    await expect(handled).rejects.toThrow('upstream');
    running.end(request); // the error handler, after the handler's rejection
    expect(await isSettled(running)).toBe(true);
    // Nothing went below zero: a new request is waited for.
    const next: CountedRequest = { counted: false };
    running.begin(next);
    expect(await isSettled(running)).toBe(false);
    running.end(next);
    expect(await isSettled(running)).toBe(true);
  });
});

describe('RunningRequests.settledWithin', () => {
  it('gives up after the wait with the count still running, and answers 0 at once when all settled', async () => {
    const pending: (() => void)[] = [];
    const timers = {
      setTimeout: (callback: () => void) => {
        pending.push(callback);
        return pending.length;
      },
      clearTimeout: () => undefined,
    };
    const running = new RunningRequests();
    running.begin({ counted: false }); // a count that never ends
    const within = running.settledWithin(timers, 10_000);
    expect(pending).toHaveLength(1);
    pending[0]!(); // the wait is over
    expect(await within).toBe(1);

    const idle = new RunningRequests();
    expect(await idle.settledWithin(timers, 10_000)).toBe(0);
  });
});
