import { afterAll, describe, expect, it } from 'vitest';
import { isPidAlive, repoRoot, spawnProcess, stopPid, type SpawnedProcess } from '@api-router/testing';
import { childPids } from './support/child-pids.js';
import { DEMO_API_KEY } from './support/inference-config.js';

// `LOG_LEVEL=warn make start` (a level left exported from a benchmark session, say): the launcher learns
// each service's URL from its info-level `listening` line, so it must not pass a quieter level on, or it
// waits for ever with nothing printed. It needs built code, as test/start-command.e2e.test.ts says.

const root = repoRoot();
let launcher: SpawnedProcess | undefined;
let children: number[] = [];

afterAll(async () => {
  if (launcher === undefined) return;
  // The children as they are now: after a failure the launcher may still be waiting for them.
  children = [...new Set([...children, ...childPids(launcher.pid)])];
  await launcher.stop({ signal: 'SIGINT', graceMs: 15_000 });
  for (const pid of children) await stopPid(pid);
});

describe('the local start command with LOG_LEVEL quieter than info', () => {
  it('starts, prints its endpoints and serves the printed request, then stops every child on SIGINT', async () => {
    launcher = await spawnProcess({
      command: process.execPath,
      args: ['scripts/start-local.mjs', '--free-ports'],
      cwd: root,
      env: { ...process.env, LOG_LEVEL: 'warn' },
    });
    await launcher.waitForLine((line) => line.includes('API router is running'), { timeoutMs: 90_000 });
    children = childPids(launcher.pid);
    expect(children).toHaveLength(4);

    const dataPlane = /^\s+data plane\s+(http:\/\/\S+)$/
      .exec(launcher.lines.find((line) => /^\s+data plane\s/.test(line)) ?? '')
      ?.at(1);
    expect(dataPlane).toBeDefined();
    const models = await fetch(`${dataPlane}/v1/models`, {
      headers: { authorization: `Bearer ${DEMO_API_KEY}` },
    });
    expect(models.status).toBe(200);
    await models.arrayBuffer();

    process.kill(launcher.pid, 'SIGINT');
    const exit = await Promise.race([
      launcher.exited,
      new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 30_000)),
    ]);
    expect(exit).not.toBe('timeout');
    for (const pid of children) expect(await isPidAlive(pid), `child ${pid}`).toBe(false);
  }, 150_000);
});
