import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** One measured run's start and end on the clock of V8 CPU profile timestamps (CLOCK_MONOTONIC, µs). */
export interface ProfileRun {
  readonly run: string;
  readonly startMicros: number;
  readonly endMicros: number;
}

const monotonicMicros = (): number => Number(process.hrtime.bigint() / 1000n);

/**
 * When each measured run ran, for a benchmark that writes the data plane's CPU profile (--cpu-prof): written
 * as runs.json beside the profile, so that an analysis can keep one run's samples only.
 */
export class ProfileRuns {
  readonly #runs: ProfileRun[] = [];

  get count(): number {
    return this.#runs.length;
  }

  /** Records that `run` starts now; the returned function records its end. */
  begin(run: string): () => void {
    const startMicros = monotonicMicros();
    return () => {
      this.#runs.push({ run, startMicros, endMicros: monotonicMicros() });
    };
  }

  /** Writes runs.json into `directory`. */
  write(directory: string): void {
    writeFileSync(join(directory, 'runs.json'), JSON.stringify(this.#runs, undefined, 2));
  }
}
