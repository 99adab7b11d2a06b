import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitForOptions {
  /** Give up after this long, ms; default 15 000. */
  timeoutMs?: number;
  /** Poll interval, ms; default 25. */
  intervalMs?: number;
}

/**
 * Polls `probe` until it returns a value other than undefined and returns it; fails with `description`
 * and the last probe error (in the message and as its cause) after the timeout. For conditions reached
 * through real sockets, processes and timers, in tests and benchmarks.
 */
export async function waitFor<T>(
  description: string,
  probe: () => Promise<T | undefined> | T | undefined,
  options: WaitForOptions = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error: unknown) {
      // Probes may fail while the thing under test is still coming up; keep the last failure for the report.
      lastError = error;
    }
    if (Date.now() > deadline) {
      const last = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`timed out waiting for ${description}${last}`, { cause: lastError });
    }
    await sleep(options.intervalMs ?? 25);
  }
}
