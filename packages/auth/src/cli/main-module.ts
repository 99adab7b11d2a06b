import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Whether the module at `moduleUrl` (its import.meta.url) is the script Node was started with. Node loads
 * that script by its real path, so `argv1` — as typed, perhaps through a symlink (macOS's /tmp, a linked
 * checkout) — is compared by its real path too; compared as typed, the CLI took itself for an import and
 * printed nothing.
 */
export function isMainModule(moduleUrl: string, argv1: string | undefined = process.argv[1]): boolean {
  if (argv1 === undefined) return false;
  try {
    return realpathSync(argv1) === fileURLToPath(moduleUrl);
  } catch {
    // No such file (e.g. a path Node completed with an extension): not started as this file.
    return false;
  }
}
