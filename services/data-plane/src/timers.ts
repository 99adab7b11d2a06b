/** Opaque handle of a scheduled callback. */
export type TimerHandle = object | number;

/** Timer scheduling, injected so that tests drive time by hand instead of sleeping. */
export interface Timers {
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** Node's timers. Timers are unref'd: a pending reconnect or drain must never keep the process alive alone. */
export const systemTimers: Timers = {
  setTimeout: (callback, delayMs) => setTimeout(callback, delayMs).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Resolves after `delayMs` on the given timers. */
export function delay(timers: Timers, delayMs: number): Promise<void> {
  return new Promise((resolve) => {
    timers.setTimeout(resolve, delayMs);
  });
}
