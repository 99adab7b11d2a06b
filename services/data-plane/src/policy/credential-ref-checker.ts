import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import type { RuntimePolicy } from '@api-router/policy';

/** Checks that every backend's credential reference can be resolved on this data plane. */
export interface CredentialRefChecker {
  /** Resolves to undefined when all references resolve, else to a reason naming the first bad backend. */
  check(policy: RuntimePolicy): Promise<string | undefined>;
}

export interface CredentialRefCheckerDeps {
  /** The environment snapshot taken by config.ts (never process.env directly). */
  environment: ReadonlyMap<string, string>;
  /** True when the path is an existing, readable regular file; defaults to a real filesystem check. */
  isReadableFile?: (path: string) => Promise<boolean>;
}

/**
 * A backend's `credentialRef` is "" (no credential), `env:NAME` (the variable must be set and non-empty in
 * the data plane's environment) or `file:/absolute/path` (the file must exist and be readable). Anything
 * else is unresolvable. The values themselves are never read or logged here.
 */
export function createCredentialRefChecker(deps: CredentialRefCheckerDeps): CredentialRefChecker {
  const isReadableFile = deps.isReadableFile ?? isReadableRegularFile;
  return {
    async check(policy) {
      for (const backend of policy.backendsById.values()) {
        const problem = await checkRef(backend.credentialRef, deps.environment, isReadableFile);
        if (problem !== undefined) {
          return `backend "${backend.id}": credentialRef "${backend.credentialRef}" ${problem}`;
        }
      }
      return undefined;
    },
  };
}

async function checkRef(
  ref: string,
  environment: ReadonlyMap<string, string>,
  isReadableFile: (path: string) => Promise<boolean>,
): Promise<string | undefined> {
  if (ref === '') return undefined;
  if (ref.startsWith('env:')) {
    const name = ref.slice('env:'.length);
    if (name === '') return 'names no environment variable';
    return environment.get(name)
      ? undefined
      : `is not resolvable: environment variable ${name} is not set on this data plane`;
  }
  if (ref.startsWith('file:')) {
    const path = ref.slice('file:'.length);
    if (!isAbsolute(path)) return 'must name an absolute path';
    return (await isReadableFile(path))
      ? undefined
      : `is not resolvable: ${path} does not exist or is not readable`;
  }
  return 'has an unknown scheme (expected env:NAME or file:/path)';
}

async function isReadableRegularFile(path: string): Promise<boolean> {
  try {
    const info = await stat(path);
    if (!info.isFile()) return false;
    await access(path, constants.R_OK);
    return true;
  } catch {
    // Any failure (missing, permission denied, I/O error) means "not resolvable"; the caller reports the path.
    return false;
  }
}
