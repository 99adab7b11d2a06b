// The inference-overhead benchmark's output: one table per round and latency (report) and the summary
// line per latency (summarise: medians over the rounds). Measuring is bench/inference-overhead.ts.
import type { LoadRunResult } from './load-run.js';
import { median } from './median.js';

export interface Measured extends LoadRunResult {
  cpuMicrosPerRequest?: number;
  /** Where that CPU went: main thread vs other threads, user vs system. */
  cpuSplit?: string;
  /** The router's own view (router_overhead_seconds over the run): mean, and bucket upper bounds, ms. */
  routerOverheadMeanMs?: number;
  routerOverheadP50Ms?: number;
  routerOverheadP99Ms?: number;
  /** The router's event-loop delay and GC pauses over the run (its default metrics). */
  eventLoop?: string;
  /** With --gc-stats: the young-generation GCs over the run, from the server's --trace-gc-nvp log. */
  scavenges?: string;
  /** How busy each core was over the run (the load generator's core saturating would skew every row). */
  coresBusy?: string;
  /** CPU per request of the other processes named for the run (the mock, the control plane). */
  othersCpu?: string;
  /** The data plane's undelivered records at the window's end: whether the control plane kept up. */
  recordBacklog?: string;
}

/** One measured run of each row, in this order (alternated round by round with --rounds). */
export interface RoundResult {
  readonly direct: Measured;
  /** The mock where it runs during the router run (beside the load generator): the like-for-like base. */
  readonly directShared: Measured | undefined;
  readonly router: Measured;
  readonly bare: Measured | undefined;
}

/** The summary line of one backend latency: each figure's median over the rounds, and each round's value. */
export function summarise(latencyMs: number, runs: readonly RoundResult[]): string {
  const figure = (of: (run: RoundResult) => number | undefined, digits: number): string => {
    const values = runs.map((run) => of(run) ?? NaN);
    if (values.some(Number.isNaN)) return '-';
    const each = values.length === 1 ? '' : ` (${values.map((value) => fixed(value, digits)).join(' / ')})`;
    return `${fixed(median(values), digits)}${each}`;
  };
  const cpu = (measured: Measured | undefined): number | undefined => measured?.cpuMicrosPerRequest;
  return (
    `${latencyMs} ms backend${runs.length === 1 ? '' : `, median of ${runs.length} rounds`}: ` +
    `router p99 − direct p99 = ${figure((run) => run.router.p99Ms - run.direct.p99Ms, 2)} ms` +
    (runs.some((run) => run.directShared === undefined)
      ? ''
      : `; − direct with the mock beside the load generator: router ` +
        `${figure((run) => run.router.p99Ms - (run.directShared?.p99Ms ?? NaN), 2)} ms` +
        (runs.some((run) => run.bare === undefined)
          ? ''
          : `, bare proxy ${figure((run) => (run.bare?.p99Ms ?? NaN) - (run.directShared?.p99Ms ?? NaN), 2)} ms`)) +
    `; router CPU ${figure((run) => cpu(run.router), 0)} µs/request` +
    (runs.some((run) => run.bare === undefined)
      ? ''
      : `, over the bare proxy ${figure((run) => (cpu(run.router) ?? NaN) - (cpu(run.bare) ?? NaN), 0)}`)
  );
}

function row(cells: (string | number)[]): string {
  return cells
    .map((cell, index) => String(cell)[index === 0 ? 'padEnd' : 'padStart'](index === 0 ? 20 : 11))
    .join(' ');
}

export function fixed(value: number | undefined, digits = 2): string {
  return value === undefined || Number.isNaN(value) ? '-' : value.toFixed(digits);
}

export function report(label: string, { direct, directShared, router, bare }: RoundResult): void {
  const lines = [
    row(['', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'errors', 'CPU µs/req']),
    ...(
      [
        ['direct', direct],
        ...(directShared === undefined ? [] : [['direct, CPU 0', directShared] as const]),
        ['router', router],
        ...(bare === undefined ? [] : [['bare proxy', bare] as const]),
      ] as const
    ).map(([name, measured]) =>
      row([
        `${label} ${name}`,
        fixed(measured.requestsPerSecond, 0),
        fixed(measured.p50Ms),
        fixed(measured.p99Ms),
        measured.non2xx,
        measured.errors,
        fixed(measured.cpuMicrosPerRequest, 0),
      ]),
    ),
    row([
      `${label} difference`,
      fixed(router.requestsPerSecond - direct.requestsPerSecond, 0),
      fixed(router.p50Ms - direct.p50Ms),
      fixed(router.p99Ms - direct.p99Ms),
      '',
      '',
      '',
    ]),
  ];
  lines.push(
    `router CPU per request: ${router.cpuSplit ?? '-'}`,
    ...(bare === undefined ? [] : [`bare proxy CPU per request: ${bare.cpuSplit ?? '-'}`]),
    `router_overhead_seconds over the router run: mean ${fixed(router.routerOverheadMeanMs, 2)} ms, ` +
      `p50 ≤ ${fixed(router.routerOverheadP50Ms, 1)} ms, ` +
      `p99 ≤ ${fixed(router.routerOverheadP99Ms, 1)} ms (bucket upper bounds)`,
    `router over the run: ${router.eventLoop ?? '-'}`,
    ...(router.scavenges === undefined ? [] : [`router scavenges: ${router.scavenges}`]),
    ...(bare?.scavenges === undefined ? [] : [`bare proxy scavenges: ${bare.scavenges}`]),
    `latency ms, direct: ${direct.percentiles}` +
      (directShared === undefined ? '' : `; direct, CPU 0: ${directShared.percentiles}`) +
      `; router: ${router.percentiles}` +
      (bare === undefined ? '' : `; bare proxy: ${bare.percentiles}`),
    `cores busy over the runs: direct ${direct.coresBusy ?? '-'}` +
      (directShared === undefined ? '' : `; direct, CPU 0 ${directShared.coresBusy ?? '-'}`) +
      `; router ${router.coresBusy ?? '-'}` +
      (bare === undefined ? '' : `; bare proxy ${bare.coresBusy ?? '-'}`),
    `CPU µs/request of the other processes: router run ${router.othersCpu || '-'}` +
      (bare === undefined ? '' : `; bare proxy run ${bare.othersCpu || '-'}`),
    ...(router.recordBacklog === undefined
      ? []
      : [`records not yet delivered to the control plane at the router run's end: ${router.recordBacklog}`]),
  );
  process.stdout.write(`${lines.join('\n')}\n\n`);
}
