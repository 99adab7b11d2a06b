import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** One measured run's start and end on the clock of V8 CPU profile timestamps (CLOCK_MONOTONIC, µs). */
export interface ProfileRun {
  readonly run: string;
  /** The profiled process (its profile file's name holds the same pid). */
  readonly pid: number;
  readonly startMicros: number;
  endMicros: number;
  /** Responses completed in the run's window, so that an analysis can give time per request. */
  requests: number;
}

/** A run being recorded: `end()` when its window ends, `counted()` once its responses are known. */
export interface ProfileRunHandle {
  end(): void;
  counted(requests: number): void;
}

const monotonicMicros = (): number => Number(process.hrtime.bigint() / 1000n);

/**
 * When each measured run ran, for a benchmark that writes CPU profiles (--cpu-prof): written as runs.json
 * beside the profiles, so that an analysis (bench/profile-compare.ts) can keep one run's samples only.
 */
export class ProfileRuns {
  readonly #runs: ProfileRun[] = [];

  /** How many runs whose name starts with `prefix` were begun. */
  count(prefix: string): number {
    return this.#runs.filter((run) => run.run.startsWith(prefix)).length;
  }

  /** Records that `run` of process `pid` starts now. */
  begin(run: string, pid: number): ProfileRunHandle {
    const entry: ProfileRun = {
      run,
      pid,
      startMicros: monotonicMicros(),
      endMicros: Number.NaN,
      requests: 0,
    };
    this.#runs.push(entry);
    return {
      end: () => {
        entry.endMicros = monotonicMicros();
      },
      counted: (requests) => {
        entry.requests = requests;
      },
    };
  }

  /** Writes runs.json (the runs whose window ended) into `directory`. */
  write(directory: string): void {
    const ended = this.#runs.filter((run) => !Number.isNaN(run.endMicros));
    writeFileSync(join(directory, 'runs.json'), JSON.stringify(ended, undefined, 2));
  }
}
