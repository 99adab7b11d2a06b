import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

/**
 * CPU pinning for the overhead benchmarks (Linux `taskset`). On a 2-core machine the load generator, the
 * mock backend and the measured server otherwise share both cores as the scheduler likes, and the measured
 * server's CPU per request swings by a third between identical runs (less CPU → bigger batches per event
 * loop turn → less CPU per request). Pinned, the measured server has one core of its own (as a router in
 * production would) and everything else shares the other.
 */
export interface CpuPinning {
  /** The core for the measured server. */
  readonly serverCpu: number;
  /** The cores for everything else (load generator, mocks, control plane). */
  readonly otherCpus: string;
  /** Moves every thread of `pid` to the measured server's core. */
  pinServer(pid: number): void;
  /** Moves every thread of `pid` back with the others. */
  unpin(pid: number): void;
}

/**
 * Pins this process (and so every process it starts later) to all cores but the last, which is kept for
 * the measured server. Undefined with fewer than 2 cores or without taskset: the benchmark then runs
 * unpinned and says so.
 */
export function pinBenchmarkProcesses(): CpuPinning | undefined {
  const cores = availableParallelism();
  if (cores < 2 || !taskset(['-V'])) return undefined;
  const serverCpu = cores - 1;
  const otherCpus = cores === 2 ? '0' : `0-${cores - 2}`;
  if (!taskset(['-a', '-p', '-c', otherCpus, String(process.pid)])) return undefined;
  return {
    serverCpu,
    otherCpus,
    pinServer: (pid) => {
      taskset(['-a', '-p', '-c', String(serverCpu), String(pid)], true);
    },
    unpin: (pid) => {
      taskset(['-a', '-p', '-c', otherCpus, String(pid)], true);
    },
  };
}

function taskset(args: string[], required = false): boolean {
  try {
    execFileSync('taskset', args, { stdio: 'ignore' });
    return true;
  } catch (error: unknown) {
    if (required) throw new Error(`taskset ${args.join(' ')} failed`, { cause: error });
    return false;
  }
}
