import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** Creates `<runDir>/<name>` empty (any earlier contents are removed) and returns its path. */
export async function freshServiceDir(runDir: string, name: string): Promise<string> {
  const dir = join(runDir, name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true, mode: 0o755 });
  return dir;
}
