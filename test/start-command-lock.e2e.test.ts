import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isPidAlive, stopPid } from '@api-router/testing';
import { DEMO_API_KEY } from './support/inference-config.js';
import {
  printedDataPlane,
  startLauncher,
  stopLauncher,
  stopLaunchers,
  temporaryDirectory,
  waitRunning,
} from './support/local-launcher.js';

// Two `make start` at once shared .tmp/local: the second rewrote router.yaml (which the first one's control
// plane watches, so the first router's backends moved to the second's ports), endpoints.json and the
// caches. A second launcher on the same directory must fail at once, naming the running one's pid, and
// leave the first untouched; a lock left by a launcher that died (SIGKILL) must not block the next start,
// but the services such a launcher left running must (they hold the ports and the run directory's files).

const runDir = join(temporaryDirectory('start-lock-'), 'run');
const lockFile = join(runDir, 'launcher.pid');

afterAll(stopLaunchers);

/** The pid of a process that has exited (as a launcher killed with SIGKILL leaves in its lock). */
function deadPid(): number {
  const { pid } = spawnSync(process.execPath, ['-e', '']);
  return pid;
}

describe('two local start commands on one run directory', () => {
  it('takes over a stale lock, refuses a second launcher by the first one’s pid, and frees the lock at exit', async () => {
    mkdirSync(runDir, { recursive: true });
    const stale = deadPid();
    expect(await isPidAlive(stale)).toBe(false);
    writeFileSync(lockFile, `${stale}\n`);

    const first = await startLauncher(runDir);
    await waitRunning(first);
    expect(readFileSync(lockFile, 'utf8').trim()).toBe(String(first.process.pid));
    const endpoints = readFileSync(join(runDir, 'endpoints.json'), 'utf8');
    const routerConfig = readFileSync(join(runDir, 'router.yaml'), 'utf8');

    const second = await startLauncher(runDir);
    const exit = await second.process.exited;
    expect(exit.code).toBe(1);
    const refusal = second.process.errorLines.join('\n');
    expect(refusal).toContain(`another start (pid ${first.process.pid}) is running`);
    expect(refusal).toContain('LOCAL_RUN_DIR=');
    expect(second.process.lines.join('\n')).not.toContain('API router is running');

    // The first run's files and services are as they were.
    expect(readFileSync(join(runDir, 'endpoints.json'), 'utf8')).toBe(endpoints);
    expect(readFileSync(join(runDir, 'router.yaml'), 'utf8')).toBe(routerConfig);
    expect(readFileSync(lockFile, 'utf8').trim()).toBe(String(first.process.pid));
    const models = await fetch(`${printedDataPlane(first)}/v1/models`, {
      headers: { authorization: `Bearer ${DEMO_API_KEY}` },
    });
    expect(models.status).toBe(200);
    await models.arrayBuffer();

    await stopLauncher(first);
    expect(existsSync(lockFile)).toBe(false);
    for (const pid of first.children) expect(await isPidAlive(pid), `child ${pid}`).toBe(false);
  }, 150_000);

  it('refuses to start beside the services a killed launcher left running, naming their pids', async () => {
    // The services run in process groups of their own: SIGKILL to the launcher leaves all four running.
    const killed = await startLauncher(runDir);
    await waitRunning(killed);
    expect(killed.children).toHaveLength(4);
    process.kill(killed.process.pid, 'SIGKILL');
    await killed.process.exited;
    for (const pid of killed.children) expect(await isPidAlive(pid), `child ${pid}`).toBe(true);

    const next = await startLauncher(runDir);
    expect((await next.process.exited).code).toBe(1);
    const refusal = next.process.errorLines.join('\n');
    expect(refusal).toContain('left its services running');
    const named = /kill ([\d ]+)$/m.exec(refusal)?.at(1)?.trim().split(' ').map(Number);
    expect(named?.sort()).toEqual([...killed.children].sort());

    for (const pid of killed.children) await stopPid(pid);
    const after = await startLauncher(runDir);
    await waitRunning(after);
    await stopLauncher(after);
  }, 150_000);
});
