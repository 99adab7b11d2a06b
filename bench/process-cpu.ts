import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

let clockTicksPerSecond: number | undefined;

/** User and system CPU time of one process or thread so far, in microseconds. */
export interface CpuTimes {
  userMicros: number;
  systemMicros: number;
}

/** CPU of a process so far, split into its main thread and every other thread (libuv pool, GC, …). */
export interface ProcessCpu {
  total: CpuTimes;
  mainThread: CpuTimes;
}

/**
 * CPU time (user + system) a process has used so far, in microseconds, from Linux /proc/<pid>/stat
 * (utime and stime, fields 14 and 15, in clock ticks: usually 10 ms resolution). Throws off Linux.
 */
export function processCpuMicros(pid: number): number {
  const { userMicros, systemMicros } = readTimes(`/proc/${pid}/stat`);
  return userMicros + systemMicros;
}

/** {@link processCpuMicros} split by user/system and main thread/others (/proc/<pid>/task/<pid>/stat). */
export function processCpu(pid: number): ProcessCpu {
  return { total: readTimes(`/proc/${pid}/stat`), mainThread: readTimes(`/proc/${pid}/task/${pid}/stat`) };
}

/** `after − before` of {@link processCpu}, per request. */
export function cpuPerRequest(before: ProcessCpu, after: ProcessCpu, requests: number): string {
  const per = (a: CpuTimes, b: CpuTimes): string =>
    `user ${((a.userMicros - b.userMicros) / requests).toFixed(0)} + sys ${((a.systemMicros - b.systemMicros) / requests).toFixed(0)}`;
  const others: CpuTimes = {
    userMicros: after.total.userMicros - after.mainThread.userMicros,
    systemMicros: after.total.systemMicros - after.mainThread.systemMicros,
  };
  const othersBefore: CpuTimes = {
    userMicros: before.total.userMicros - before.mainThread.userMicros,
    systemMicros: before.total.systemMicros - before.mainThread.systemMicros,
  };
  return `main thread ${per(after.mainThread, before.mainThread)} µs, other threads ${per(others, othersBefore)} µs`;
}

/** Threads of a process, for a reader who wants to know what "other threads" are. */
export function threadNames(pid: number): string[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) =>
    readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim(),
  );
}

function readTimes(statPath: string): CpuTimes {
  clockTicksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  const stat = readFileSync(statPath, 'utf8');
  // The command name (field 2) is parenthesised and may contain spaces; fields 3… follow its last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const toMicros = (ticks: number): number => (ticks / clockTicksPerSecond!) * 1e6;
  return { userMicros: toMicros(Number(fields[14 - 3])), systemMicros: toMicros(Number(fields[15 - 3])) };
}

/** Busy and total jiffies of each core so far (/proc/stat `cpuN` lines). */
/** Per core, in clock ticks: busy (steal included), steal (time the hypervisor ran something else), total. */
export type CoreTimes = ReadonlyMap<number, { busy: number; steal: number; total: number }>;

export function coreTimes(): CoreTimes {
  const cores = new Map<number, { busy: number; steal: number; total: number }>();
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const match = /^cpu(\d+) (.*)$/.exec(line);
    if (match === null) continue;
    // user nice system idle iowait irq softirq steal …: idle and iowait are the idle ones.
    const ticks = match[2]!.trim().split(/\s+/).map(Number);
    const total = ticks.slice(0, 8).reduce((sum, tick) => sum + tick, 0);
    cores.set(Number(match[1]), { busy: total - ticks[3]! - ticks[4]!, steal: ticks[7] ?? 0, total });
  }
  return cores;
}

/**
 * How busy each core was between two {@link coreTimes} readings, e.g. "CPU 0 81%, CPU 1 38% (steal 4%)".
 * Steal is time a virtual machine's core was runnable but the hypervisor ran something else: a run with
 * much of it measured a contended host, not the code.
 */
export function coreBusy(before: CoreTimes, after: CoreTimes): string {
  return [...after]
    .map(([core, { busy, steal, total }]) => {
      const then = before.get(core) ?? { busy: 0, steal: 0, total: 0 };
      const ticks = Math.max(1, total - then.total);
      const stolen = steal - then.steal;
      return (
        `CPU ${core} ${Math.round((100 * (busy - then.busy)) / ticks)}%` +
        (stolen > 0 ? ` (steal ${Math.round((100 * stolen) / ticks)}%)` : '')
      );
    })
    .join(', ');
}

/** Peak resident set size of a process so far (VmHWM in /proc/<pid>/status), in MiB. */
export function peakRssMiB(pid: number): number {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match === null ? Number.NaN : Number(match[1]) / 1024;
}
