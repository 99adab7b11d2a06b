import { readFile, readlink } from 'node:fs/promises';

/**
 * Whether `pid` names a running process. A zombie (exited, not yet reaped: services started by the CLI are
 * re-parented to an init that may never reap them) counts as gone, which is why /proc is read before
 * falling back to signal 0.
 */
export async function isPidAlive(pid: number): Promise<boolean> {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Field 3 follows the parenthesised command name, which may itself contain spaces or parentheses.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch (error: unknown) {
    if (isErrnoCode(error, 'ENOENT')) return false;
    // No /proc (not Linux): signal 0 checks existence without delivering anything.
    try {
      process.kill(pid, 0);
      return true;
    } catch (killError: unknown) {
      return isErrnoCode(killError, 'EPERM');
    }
  }
}

/** Whether `error` is a Node system error with the given `code` (ENOENT, ESRCH …). */
export function isErrnoCode(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code;
}

/**
 * Working directory of `pid` (Linux /proc), or undefined when it cannot be read (gone, not permitted,
 * no /proc). Used to check that a recorded pid still belongs to a server we started in a known directory
 * before signalling it: pids are reused.
 */
export async function processCwd(pid: number): Promise<string | undefined> {
  try {
    return await readlink(`/proc/${pid}/cwd`);
  } catch {
    // Unknown is reported as undefined; callers decide whether that is safe.
    return undefined;
  }
}
