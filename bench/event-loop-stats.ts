import { EVENT_LOOP_SAMPLE_INTERVAL_MS } from '@api-router/observability';
import { bucketsBetween, histogramBuckets } from './histogram-quantiles.js';

/**
 * What a Node service's default metrics (prom-client collectDefaultMetrics) say about one benchmark run:
 * event-loop delay (prom-client's monitorEventLoopDelay histogram is reset at every scrape, so a scrape
 * before the run and one after cover exactly the run) and garbage collection pauses by kind. The delay is
 * the gauges minus the sampling interval they include (EVENT_LOOP_SAMPLE_INTERVAL_MS): until 2026-11-27
 * the benchmarks printed the raw gauges, 10 ms too high. A tail
 * latency the router's own overhead histogram does not show (time a response sat in a socket while the
 * loop was busy counts as upstream time there) shows up here.
 */
export interface EventLoopRun {
  /** How late the loop served a timer: p99 and maximum over the run, ms (sampling interval removed). */
  delayP99Ms: number;
  delayMaxMs: number;
  gc: { kind: string; count: number; totalMs: number; over10Ms: number }[];
}

export function eventLoopRun(before: string, after: string): EventLoopRun {
  const gcKinds = new Set(
    [...after.matchAll(/^nodejs_gc_duration_seconds_count\{.*kind="([^"]+)"/gm)].map((match) => match[1]!),
  );
  return {
    delayP99Ms: eventLoopDelayMs(gauge(after, 'nodejs_eventloop_lag_p99_seconds')),
    delayMaxMs: eventLoopDelayMs(gauge(after, 'nodejs_eventloop_lag_max_seconds')),
    gc: [...gcKinds].map((kind) => {
      const label = `kind="${kind}"`;
      const count = (text: string) => gauge(text, 'nodejs_gc_duration_seconds_count', label);
      const sum = (text: string) => gauge(text, 'nodejs_gc_duration_seconds_sum', label);
      const run = bucketsBetween(kindBuckets(before, kind), kindBuckets(after, kind));
      const total = [...run.values()].at(-1) ?? 0;
      return {
        kind,
        count: count(after) - count(before),
        totalMs: (sum(after) - sum(before)) * 1000,
        over10Ms: total - (run.get(0.01) ?? total),
      };
    }),
  };
}

export function formatEventLoopRun(run: EventLoopRun): string {
  const gc = run.gc
    .filter((entry) => entry.count > 0)
    .map(
      (entry) =>
        `${entry.kind} ${entry.count}× ${entry.totalMs.toFixed(0)} ms` +
        (entry.over10Ms > 0 ? ` (${entry.over10Ms} over 10 ms)` : ''),
    )
    .join(', ');
  return `event-loop delay p99 ${run.delayP99Ms.toFixed(1)} ms, max ${run.delayMaxMs.toFixed(1)} ms; GC ${gc || 'none'}`;
}

/** A lag gauge (seconds, sampling interval included) as the delay beyond the interval, ms. */
function eventLoopDelayMs(seconds: number): number {
  return Math.max(0, seconds * 1000 - EVENT_LOOP_SAMPLE_INTERVAL_MS);
}

/** Sum of the series `name` (whatever other labels, e.g. service), with `label` among its labels if given. */
function gauge(text: string, name: string, label?: string): number {
  let total = Number.NaN;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (label !== undefined && !line.includes(label)) continue;
    total = (Number.isNaN(total) ? 0 : total) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/** The GC histogram's buckets for one kind. */
function kindBuckets(text: string, kind: string) {
  const lines = text
    .split('\n')
    .filter(
      (line) => line.startsWith('nodejs_gc_duration_seconds_bucket{') && line.includes(`kind="${kind}"`),
    );
  return histogramBuckets(lines.join('\n'), 'nodejs_gc_duration_seconds');
}
