import { readdirSync } from 'node:fs';
import { setPriority } from 'node:os';

/**
 * Sets the CPU priority (nice value, -20…19) of every thread of `pid` (Linux: a nice value belongs to a
 * thread, and `setpriority` on a pid changes its main thread only; threads started later inherit their
 * creator's). Returns how many threads it changed.
 */
export function setProcessNice(pid: number, nice: number): number {
  const threads = readdirSync(`/proc/${pid}/task`);
  for (const tid of threads) setPriority(Number(tid), nice);
  return threads.length;
}
