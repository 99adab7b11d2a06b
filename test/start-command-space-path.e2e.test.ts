import { spawn } from 'node:child_process';
import { mkdtempSync, rmdirSync, symlinkSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isPidAlive, repoRoot, spawnProcess, stopPid, type SpawnedProcess } from '@api-router/testing';
import { childPids } from './support/child-pids.js';

// A checkout whose path holds a space ("~/My Projects/api-router"): the signed request `make start` prints
// names the signer and the demo secret by absolute path, and must still run as printed. The checkout is
// reached through a symlink with a space, kept as the launcher's path by --preserve-symlinks-main. Built
// code, as test/start-command.e2e.test.ts says.

const root = repoRoot();
const parent = mkdtempSync(join(tmpdir(), 'start-space-'));
const spacedRoot = join(parent, 'api router');
let launcher: SpawnedProcess | undefined;
let children: number[] = [];

afterAll(async () => {
  if (launcher !== undefined) {
    children = [...new Set([...children, ...childPids(launcher.pid)])];
    await launcher.stop({ signal: 'SIGINT', graceMs: 15_000 });
    for (const pid of children) await stopPid(pid);
  }
  unlinkSync(spacedRoot);
  rmdirSync(parent);
});

/** Runs `command` with sh; resolves with its stdout once it exits. */
async function runShell(command: string): Promise<string> {
  const child = spawn('sh', ['-c', command], { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', () => resolve());
  });
  return stdout;
}

describe('the local start command from a path with a space', () => {
  it('prints a signed request that runs as printed', async () => {
    symlinkSync(root, spacedRoot);
    launcher = await spawnProcess({
      command: process.execPath,
      args: ['--preserve-symlinks-main', join(spacedRoot, 'scripts/start-local.mjs'), '--free-ports'],
      cwd: parent,
    });
    await launcher.waitForLine((line) => line.includes('API router is running'), { timeoutMs: 90_000 });
    children = childPids(launcher.pid);

    const lines = launcher.lines;
    const first = lines.findIndex(
      (line) => line.trimStart().startsWith('node ') && line.includes('sign-request'),
    );
    const last = lines.findIndex((line, index) => index >= first && line.trimEnd().endsWith('| sh'));
    expect(first).toBeGreaterThanOrEqual(0);
    expect(last).toBeGreaterThanOrEqual(first);
    const printed = lines.slice(first, last + 1).join('\n');
    expect(printed).toContain('api router');

    const answer = await runShell(printed);
    expect(JSON.parse(answer)).toMatchObject({ object: 'chat.completion' });

    process.kill(launcher.pid, 'SIGINT');
    await launcher.exited;
    for (const pid of children) expect(await isPidAlive(pid), `child ${pid}`).toBe(false);
  }, 150_000);
});
