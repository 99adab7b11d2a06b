import autocannon from 'autocannon';

export interface LoadRunOptions {
  url: string;
  headers: Record<string, string>;
  body: string;
  connections: number;
  durationSeconds: number;
  /** Total requests per second across all connections; undefined = as fast as responses allow. */
  overallRate?: number | undefined;
}

/** What one fixed-duration autocannon run measured. Latencies in milliseconds, of 2xx responses only. */
export interface LoadRunResult {
  requestsPerSecond: number;
  /** Responses received, any status. */
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
 * POSTs `body` to `url` from `connections` keep-alive connections for `durationSeconds`. Latency
 * percentiles come from every response's own high-resolution time (autocannon's histogram rounds to whole
 * milliseconds, too coarse for a router that adds well under one).
 */
export async function runLoad(options: LoadRunOptions): Promise<LoadRunResult> {
  const latencies: number[] = [];
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        method: 'POST',
        headers: options.headers,
        body: options.body,
        connections: options.connections,
        duration: options.durationSeconds,
        ...(options.overallRate === undefined ? {} : { overallRate: options.overallRate }),
      },
      (error: unknown, finished: autocannon.Result) => {
        if (error === null || error === undefined) resolve(finished);
        else reject(error instanceof Error ? error : new Error('autocannon failed', { cause: error }));
      },
    );
    instance.on('response', (_client, statusCode, _bytes, responseTimeMs) => {
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTimeMs);
    });
  });
  latencies.sort((a, b) => a - b);
  const completed = result['1xx'] + result['2xx'] + result['3xx'] + result['4xx'] + result['5xx'];
  return {
    requestsPerSecond: completed / result.duration,
    completed,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
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
