import { median } from './median.js';

/** What the summary needs of one measured run. */
export interface RunFigures {
  requestsPerSecond: number;
  routerCpuMicrosPerRequest: number;
}

/** One round of the limits benchmark: its "off" and "on" runs. */
export interface MeasuredRound {
  off: RunFigures;
  on: RunFigures;
  round: number;
}

/** A run "held" --rate when it served at least this share of it (see heldRateSummary). */
export const HELD_RATE_SHARE = 0.95;

/**
 * Router CPU per request over `rounds`: each mode's median, and each round's own on − off (both runs of a
 * round are minutes apart at most, so machine drift between rounds, tens of µs on these VMs, cancels out).
 */
export function addedCpu(rounds: readonly MeasuredRound[]): { off: number; on: number; paired: number[] } {
  return {
    off: median(rounds.map(({ off }) => off.routerCpuMicrosPerRequest)),
    on: median(rounds.map(({ on }) => on.routerCpuMicrosPerRequest)),
    paired: rounds.map(({ on, off }) => on.routerCpuMicrosPerRequest - off.routerCpuMicrosPerRequest),
  };
}

/** "31.3 (31.3 / 26.7 / 91.6)": the median of the rounds' differences, then each. */
export function formatPaired(paired: readonly number[]): string {
  return `${fixed(median(paired))} (${paired.map((value) => fixed(value)).join(' / ')})`;
}

/**
 * The same two figures over the rounds in which both modes held `rate` (at least HELD_RATE_SHARE of it).
 * CPU per request falls as throughput rises, so a run that fell short (its core shared with Redis, the mock
 * and autocannon saturated) costs more per request for that reason alone, and the round's difference no
 * longer compares the two modes at one load. The caller prints it beside the summary over all rounds.
 */
export function heldRateSummary(rounds: readonly MeasuredRound[], rate: number): string {
  const heldRounds = rounds.filter(({ on, off }) =>
    [on, off].every((run) => run.requestsPerSecond >= HELD_RATE_SHARE * rate),
  );
  const share = `${(HELD_RATE_SHARE * 100).toFixed(0)} %`;
  if (heldRounds.length === 0) return `no round in which both modes held ${share} of ${rate} req/s\n`;
  const held = addedCpu(heldRounds);
  return (
    `rounds in which both modes held ${share} of ${rate} req/s: ` +
    `${heldRounds.map(({ round }) => round).join(', ')} of ${rounds.length}; over them: added ` +
    `${fixed(held.on - held.off)} µs (off ${fixed(held.off)}, on ${fixed(held.on)}), ` +
    `median of each round's difference ${formatPaired(held.paired)} µs\n`
  );
}

/** µs with one decimal; "-" for NaN. */
function fixed(value: number): string {
  return Number.isNaN(value) ? '-' : value.toFixed(1);
}
