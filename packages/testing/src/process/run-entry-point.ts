import { execFile } from 'node:child_process';
import { repoRoot } from '../repo-root.js';

/** How a service entry point run to its end exited, and what it printed. */
export interface EntryPointExit {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a service's entry point (`path` from the repository root, TypeScript through tsx, as the tests'
 * processes run it) with `env` on top of this process's environment minus the variables whose names start
 * with `dropPrefix` and LOG_LEVEL, and resolves when it exits. For checking how an entry point refuses a
 * bad environment; the timeout only ends one that started by mistake.
 */
export function runEntryPoint(
  path: string,
  env: Record<string, string>,
  dropPrefix: string,
): Promise<EntryPointExit> {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith(dropPrefix) && name !== 'LOG_LEVEL'),
  );
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', path],
      { cwd: repoRoot(), env: { ...inherited, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
