/** Opaque handle returned by `Clock.setTimeout` (a Node `Timeout`, or a fake clock's number). */
export type TimerHandle = object | number;

/**
 * Time and timers, injected so tests drive them by hand (no sleeps, no global fake timers needed).
 * `nowMs` is wall-clock milliseconds since the epoch: it stamps records, so it must survive restarts.
 */
export interface Clock {
  nowMs(): number;
  /** Calls `callback` once after at least `delayMs` milliseconds. */
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/**
 * The real clock: `Date.now` and Node timers. Timers stay ref'd on purpose: a batch waiting for its commit
 * timer is pending I/O that must keep the process alive (an unref'd timer would let a script exit with
 * appends never resolved).
 */
export function createSystemClock(): Clock {
  return {
    nowMs: () => Date.now(),
    // A zero delay runs in the check phase of this loop turn (`setImmediate`), after the I/O callbacks of
    // the same turn: Node's `setTimeout(fn, 0)` would wait at least 1 ms.
    setTimeout: (callback, delayMs) =>
      delayMs <= 0 ? { immediate: setImmediate(callback) } : setTimeout(callback, delayMs),
    clearTimeout: (handle) => {
      if (typeof handle === 'object' && 'immediate' in handle)
        clearImmediate(handle.immediate as NodeJS.Immediate);
      else clearTimeout(handle as NodeJS.Timeout);
    },
  };
}
