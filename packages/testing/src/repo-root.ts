import { fileURLToPath } from 'node:url';

/**
 * Absolute path of the monorepo root, found from this file's location (src/ or dist/ of packages/testing),
 * so scripts and tests work from any working directory.
 */
export function repoRoot(): string {
  return fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/$/, '');
}
