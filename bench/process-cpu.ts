import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let clockTicksPerSecond: number | undefined;

/**
 * CPU time (user + system) a process has used so far, in microseconds, from Linux /proc/<pid>/stat
 * (utime and stime, fields 14 and 15, in clock ticks: usually 10 ms resolution). Throws off Linux.
 */
export function processCpuMicros(pid: number): number {
  clockTicksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is parenthesised and may contain spaces; fields 3… follow its last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[14 - 3]) + Number(fields[15 - 3]);
  return (ticks / clockTicksPerSecond) * 1e6;
}
