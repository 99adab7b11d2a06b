import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';

const OUTSIDE_PREFIX = 'api-router-';

/** Creates `<runDir>/<name>` empty (any earlier contents are removed) and returns its path. */
export async function freshServiceDir(runDir: string, name: string): Promise<string> {
  const dir = join(runDir, name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true, mode: 0o755 });
  return dir;
}

/**
 * A new directory for service `name` under the system temp directory, for a server whose user cannot
 * reach the run directory. Whoever stops the server removes it ({@link isOutsideServiceDir}).
 */
export async function outsideServiceDir(name: string): Promise<string> {
  return await mkdtemp(join(tmpdir(), `${OUTSIDE_PREFIX}${name}-`));
}

/** Whether `dir` is one that {@link outsideServiceDir} makes: the only kind removed from a recorded path. */
export function isOutsideServiceDir(dir: string): boolean {
  return dirname(dir) === tmpdir() && basename(dir).startsWith(OUTSIDE_PREFIX);
}
