import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot, runEntryPoint, waitFor } from '@api-router/testing';

// The entry point itself (src/main.ts through tsx, as the tests' processes run it): a bad environment
// variable must end the process at once with one clear log line, not a logged stack trace.

describe('data plane entry point', () => {
  it('exits 1 on a bad environment variable with one fatal line naming it, and no stack', async () => {
    const { code, stdout, stderr } = await runEntryPoint(
      'services/data-plane/src/main.ts',
      { DP_PORT: 'abc' },
      'DP_',
    );
    expect(code).toBe(1);
    expect(stderr).not.toMatch(/^\s+at /m);
    const lines = stdout.split('\n').filter((line) => line !== '');
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 60, service: 'data-plane' });
    expect(line.msg).toBe(
      'data plane failed to start: DP_PORT must be an integer between 0 and 65535, got "abc"',
    );
    expect(lines[0]).not.toContain('stack');
  }, 90_000);

  // SIGTERM from the orchestrator and a SIGINT (Ctrl-C, or a second stop) must not run the shutdown twice:
  // the first starts it, a second asks to exit at once, as in the control plane.
  it('runs its shutdown once for SIGTERM then SIGINT; the second signal exits at once', async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), 'dp-signals-'));
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !name.startsWith('DP_') && name !== 'LOG_LEVEL'),
    );
    const child = spawn(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', 'services/data-plane/src/main.ts'],
      {
        cwd: repoRoot(),
        env: {
          ...inherited,
          DP_PORT: '0',
          DP_CACHE_DIR: cacheDir,
          // Nothing listens there: the data plane starts anyway and keeps trying.
          DP_CONTROL_PLANE_ADDRESS: '127.0.0.1:1',
          // Long enough that the second signal comes while the first shutdown is still draining.
          DP_DRAIN_DELAY_MS: '30000',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitFor('the listening line', () => (stdout.includes('"msg":"listening"') ? true : undefined), {
        timeoutMs: 60_000,
      });
      child.kill('SIGTERM');
      await waitFor('the shutdown line', () => (stdout.includes('"msg":"shutting down"') ? true : undefined));
      child.kill('SIGINT');
      expect(await exited).toBe(1);
      const messages = stdout
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => (JSON.parse(line) as { msg: string }).msg);
      expect(messages.filter((message) => message === 'shutting down')).toHaveLength(1);
      expect(messages).toContain('second signal; exiting at once');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await rm(cacheDir, { recursive: true, force: true });
    }
  }, 90_000);
});
