/** Opaque handle of a scheduled callback. */
export type TimerHandle = object | number;

/** Timer scheduling, injected so that tests drive time by hand instead of sleeping. */
export interface Timers {
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/**
 * Node's timers. Timers are unref'd: a pending reconnect or drain must never keep the process alive alone.
 * Delays are rounded up to whole milliseconds: Node keeps one timer list per distinct delay, so a fractional
 * delay (a deadline minus `performance.now()`) would create, queue and drop a list of its own per call,
 * where whole ones share a list (Node's timers fire on whole milliseconds anyway).
 */
export const systemTimers: Timers = {
  setTimeout: (callback, delayMs) => setTimeout(callback, Math.ceil(delayMs)).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Resolves after `delayMs` on the given timers. */
export function delay(timers: Timers, delayMs: number): Promise<void> {
  return new Promise((resolve) => {
    timers.setTimeout(resolve, delayMs);
  });
}
