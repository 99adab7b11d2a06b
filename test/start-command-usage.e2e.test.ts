import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '@api-router/testing';
import { stopLaunchers, temporaryDirectory } from './support/local-launcher.js';

// Mistakes a new user makes before anything starts, each answered at once with what to do: a mistyped
// option (`--free-port` used to be ignored, starting on the default ports), a config file that does not
// exist, and `bash scripts/start.sh` before setup (it printed Node's "Cannot find module" stack trace and
// "mock-a exited with code 1 before listening"). None of these starts a service.

const root = repoRoot();
const work = temporaryDirectory('start-usage-');

afterAll(stopLaunchers);

/** Runs the launcher at `script` to its exit (it must exit by itself: it starts nothing here). */
function launch(script: string, args: string[]): { status: number | null; stderr: string } {
  const result = spawnSync(process.execPath, [script, ...args], {
    cwd: work,
    encoding: 'utf8',
    env: { ...process.env, LOCAL_RUN_DIR: join(work, 'run') },
    timeout: 30_000,
  });
  return { status: result.status, stderr: result.stderr };
}

describe('the local start command before it starts anything', () => {
  it('refuses an unknown option with the usage', () => {
    const { status, stderr } = launch(join(root, 'scripts/start-local.mjs'), ['--free-port']);
    expect(status).toBe(2);
    expect(stderr).toContain('unknown option --free-port');
    expect(stderr).toContain('--free-ports');
    expect(existsSync(join(work, 'run'))).toBe(false);
  });

  it('refuses a config file that does not exist, relative to where it was started', () => {
    const { status, stderr } = launch(join(root, 'scripts/start-local.mjs'), [
      '--policies-config',
      'missing.yaml',
    ]);
    expect(status).toBe(2);
    expect(stderr).toContain('--policies-config: no file missing.yaml');
  });

  it('says to run setup when the services are not built', () => {
    // A checkout with the launcher and nothing built: the launcher finds its root from its own path.
    const bare = join(work, 'bare');
    mkdirSync(join(bare, 'scripts'), { recursive: true });
    copyFileSync(join(root, 'scripts/start-local.mjs'), join(bare, 'scripts/start-local.mjs'));
    cpSync(join(root, 'scripts/local'), join(bare, 'scripts/local'), { recursive: true });
    const { status, stderr } = launch(join(bare, 'scripts/start-local.mjs'), ['--free-ports']);
    expect(status).toBe(1);
    expect(stderr).toContain('not built');
    expect(stderr).toContain('bash scripts/setup.sh');
    expect(stderr).not.toContain('Cannot find module');
  });
});
