import { setTimeout as delay } from 'node:timers/promises';

/**
 * Waits `ms` milliseconds; rejects with an AbortError when `signal` aborts (the client went away).
 * Injected so unit tests can record the delays asked for instead of waiting for them.
 */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** The real timer-based {@link Sleep}. */
export const realSleep: Sleep = async (ms, signal) => {
  await delay(ms, undefined, signal === undefined ? undefined : { signal });
};
