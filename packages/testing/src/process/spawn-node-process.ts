import { repoRoot } from '../repo-root.js';
import { spawnProcess, type SpawnedProcess } from './spawned-process.js';

export interface SpawnNodeProcessOptions {
  /** TypeScript or JavaScript entry point, absolute or relative to `cwd`. */
  script: string;
  args?: readonly string[];
  /** Default the repository root (where `--import tsx` is resolved from). */
  cwd?: string;
  /** Complete environment of the child; default the parent's. */
  env?: NodeJS.ProcessEnv;
}

/**
 * Starts `node --conditions=source --import tsx <script>`: a service's src/main.ts runs straight from
 * TypeScript, and workspace packages resolve to their src/ like they do under vitest (no build needed).
 * Stop it with `stop()` in teardown.
 */
export async function spawnNodeProcess(options: SpawnNodeProcessOptions): Promise<SpawnedProcess> {
  return spawnProcess({
    command: process.execPath,
    args: ['--conditions=source', '--import', 'tsx', options.script, ...(options.args ?? [])],
    cwd: options.cwd ?? repoRoot(),
    ...(options.env === undefined ? {} : { env: options.env }),
  });
}
