import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';

export interface LoadRunOptions {
  url: string;
  headers: Record<string, string>;
  body: string;
  connections: number;
  /** Load before the measured window, on the same connections; nothing of it is counted. */
  warmupSeconds: number;
  /** The measured window. */
  durationSeconds: number;
  /** Total requests per second across all connections; undefined = as fast as responses allow. */
  overallRate?: number | undefined;
  /** Runs when the warm-up is over (e.g. "before" readings); responses count once it has resolved. */
  onWindowStart?: () => unknown;
  /** Runs when the measured window closes, while the load still runs (e.g. "after" readings). */
  onWindowEnd?: () => unknown;
}

/** What the measured window of a load run saw. Latencies in milliseconds, of 2xx responses only. */
export interface LoadRunResult {
  requestsPerSecond: number;
  /** Responses received in the window, any status. */
  completed: number;
  non2xx: number;
  /** Connection errors and timeouts. */
  errors: number;
  p50Ms: number;
  p99Ms: number;
  /** More of the distribution, e.g. "p75 21.3 · p90 22.5 · …": whether a tail is broad or a few pauses. */
  percentiles: string;
}

/**
 * Load kept on past the window's end (not counted), so that autocannon's stop — it closes every connection,
 * requests in flight included, which a router answers as clients that left — falls outside the window.
 */
const TAIL_SECONDS = 1;

/**
 * POSTs `body` to `url` from `connections` keep-alive connections: one uninterrupted autocannon run of
 * warm-up + window (+ a short tail), of which only the window is measured. One run rather than a warm-up run
 * and a measured run: a new run opens its connections together and sends their first requests at once, so
 * the connections then move in step (each sends its next request when its last answer arrives) for the
 * first few hundred milliseconds, in waves of `connections` requests that a server serves back to back —
 * and a router's warm-up run also ended with every upstream request in flight aborted. Latency percentiles
 * come from every response's own high-resolution time (autocannon's histogram rounds to whole
 * milliseconds, too coarse for a router that adds well under one).
 */
export async function runLoad(options: LoadRunOptions): Promise<LoadRunResult> {
  const latencies: number[] = [];
  let counting = false;
  let completed = 0;
  let non2xx = 0;
  let errors = 0;
  let windowMs = 0;
  // Cancelled when autocannon fails: a failed load run has no window to measure.
  const noWindow = new AbortController();
  const windowDone = (async () => {
    await sleep(options.warmupSeconds * 1000, undefined, { signal: noWindow.signal });
    await options.onWindowStart?.();
    const windowStartMs = performance.now();
    counting = true;
    await sleep(options.durationSeconds * 1000, undefined, { signal: noWindow.signal });
    counting = false;
    windowMs = performance.now() - windowStartMs;
    await options.onWindowEnd?.();
  })();
  const finished = new Promise<void>((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        method: 'POST',
        headers: options.headers,
        body: options.body,
        connections: options.connections,
        duration: options.warmupSeconds + options.durationSeconds + TAIL_SECONDS,
        ...(options.overallRate === undefined ? {} : { overallRate: options.overallRate }),
      },
      (error: unknown) => {
        if (error === null || error === undefined) return resolve();
        noWindow.abort();
        reject(error instanceof Error ? error : new Error('autocannon failed', { cause: error }));
      },
    );
    instance.on('response', (_client, statusCode, _bytes, responseTimeMs) => {
      if (!counting) return;
      completed += 1;
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTimeMs);
      else non2xx += 1;
    });
    instance.on('reqError', () => {
      if (counting) errors += 1;
    });
  });
  await Promise.all([windowDone, finished]);
  latencies.sort((a, b) => a - b);
  return {
    requestsPerSecond: completed / (windowMs / 1000),
    completed,
    non2xx,
    errors,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    percentiles: [75, 90, 95, 99, 99.9]
      .map((p) => `p${p} ${percentile(latencies, p).toFixed(1)}`)
      .join(' · '),
  };
}

/** Nearest-rank percentile of ascending `sorted`; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
