import { closeSync, openSync, readSync, statSync } from 'node:fs';

/**
 * The young-generation GCs (scavenges) a process traced with V8's `--trace-gc-nvp` wrote to its log during
 * a run: one `gc=s` line per scavenge, with `pause=` (ms), `allocated=` (bytes allocated since the previous
 * GC) and `new_space_survived=` (bytes copied, which is what a scavenge's pause follows).
 */
export interface ScavengeStats {
  count: number;
  meanPauseMs: number;
  maxPauseMs: number;
  meanSurvivedBytes: number;
  allocatedBytes: number;
}

/** Where the log ends now: pass it to {@link scavengesSince} after the run. */
export function logOffset(file: string): number {
  return statSync(file).size;
}

/** The scavenges logged in `file` after `offset`. */
export function scavengesSince(file: string, offset: number): ScavengeStats {
  const length = logOffset(file) - offset;
  const buffer = Buffer.alloc(Math.max(0, length));
  const fd = openSync(file, 'r');
  try {
    if (length > 0) readSync(fd, buffer, 0, length, offset);
  } finally {
    closeSync(fd);
  }
  return parseScavenges(buffer.toString('utf8'));
}

/** The `gc=s` lines of `--trace-gc-nvp` output (other lines, e.g. the service's own log, are ignored). */
export function parseScavenges(text: string): ScavengeStats {
  const pauses: number[] = [];
  let survived = 0;
  let allocated = 0;
  for (const line of text.split('\n')) {
    if (!line.includes(' gc=s ')) continue;
    pauses.push(field(line, 'pause'));
    survived += field(line, 'new_space_survived');
    allocated += field(line, 'allocated');
  }
  const count = pauses.length;
  return {
    count,
    meanPauseMs: count === 0 ? 0 : pauses.reduce((sum, pause) => sum + pause, 0) / count,
    maxPauseMs: Math.max(0, ...pauses),
    meanSurvivedBytes: count === 0 ? 0 : survived / count,
    allocatedBytes: allocated,
  };
}

/** "12 scavenges, pause mean 3.06 ms (max 5.0), survived 736 KiB each, allocated 46.1 KiB per request". */
export function formatScavenges(stats: ScavengeStats, requests: number): string {
  if (stats.count === 0) return 'no scavenge logged';
  return (
    `${stats.count} scavenges, pause mean ${stats.meanPauseMs.toFixed(2)} ms ` +
    `(max ${stats.maxPauseMs.toFixed(1)}), ` +
    `survived ${(stats.meanSurvivedBytes / 1024).toFixed(0)} KiB each, ` +
    `allocated ${(stats.allocatedBytes / 1024 / Math.max(1, requests)).toFixed(1)} KiB per request`
  );
}

function field(line: string, name: string): number {
  const match = new RegExp(`(?:^|\\s)${name}=([0-9.]+)`).exec(line);
  return match === null ? 0 : Number(match[1]);
}
