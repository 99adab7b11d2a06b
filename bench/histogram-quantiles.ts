/** Cumulative bucket counts of one Prometheus histogram, by upper bound (`le`, seconds; +Inf last). */
export type HistogramBuckets = Map<number, number>;

/**
 * The `<name>_bucket` series of a /metrics text, summed over label sets other than `le` (one histogram
 * may be split by labels such as route or service).
 */
export function histogramBuckets(metricsText: string, name: string): HistogramBuckets {
  const buckets: HistogramBuckets = new Map();
  for (const line of metricsText.split('\n')) {
    if (!line.startsWith(`${name}_bucket{`)) continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    if (le === undefined) continue;
    const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
    buckets.set(bound, (buckets.get(bound) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return new Map([...buckets].sort((a, b) => a[0] - b[0]));
}

/**
 * Mean of the observations made between two scrapes (`<name>_sum` and `<name>_count`, summed over label
 * sets), in the histogram's unit; NaN without observations.
 */
export function meanBetween(before: string, after: string, name: string): number {
  const total = (text: string, series: string): number =>
    text
      .split('\n')
      .filter((line) => line.startsWith(`${name}_${series} `) || line.startsWith(`${name}_${series}{`))
      .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  const count = total(after, 'count') - total(before, 'count');
  return count === 0 ? Number.NaN : (total(after, 'sum') - total(before, 'sum')) / count;
}

/** `after − before`, bucket by bucket: the observations made between two scrapes. */
export function bucketsBetween(before: HistogramBuckets, after: HistogramBuckets): HistogramBuckets {
  return new Map([...after].map(([bound, count]) => [bound, count - (before.get(bound) ?? 0)]));
}

/**
 * Upper bound (seconds) of the bucket holding quantile `q` (0..1): "p99 ≤ this". Infinity when it falls
 * in the +Inf bucket; NaN without observations.
 */
export function quantileUpperBound(buckets: HistogramBuckets, q: number): number {
  const total = [...buckets.values()].at(-1) ?? 0;
  if (total === 0) return Number.NaN;
  for (const [bound, count] of buckets) if (count >= q * total) return bound;
  return Number.POSITIVE_INFINITY;
}
