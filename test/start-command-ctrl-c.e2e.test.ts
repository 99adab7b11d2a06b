import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { isPidAlive, repoRoot, stopPid } from '@api-router/testing';
import { childPids } from './support/child-pids.js';

// Ctrl-C in the terminal of `make start` sends SIGINT to the whole foreground process group, not only to
// the launcher, which then stops each child by pid. A service that got both signals took the second as
// "exit at once": the control plane skipped its graceful shutdown (and the data plane's last record
// shipping with it), and the data plane ran its shutdown twice. Each service must be stopped once. The
// launcher runs here in a process group of its own, as a terminal's foreground job; built code, as
// test/start-command.e2e.test.ts says.

const root = repoRoot();
let launcher: ChildProcess | undefined;
let children: number[] = [];

afterEach(async () => {
  if (launcher?.pid === undefined) return;
  children = [...new Set([...children, ...childPids(launcher.pid)])];
  if (launcher.exitCode === null && launcher.signalCode === null) await stopPid(launcher.pid);
  for (const pid of children) await stopPid(pid);
});

// `timeout 120 bash scripts/start.sh` (as the docs and CI checks run it) signals the launcher twice: once
// directly and once through its process group. The launcher must still stop each service once.
const stops: [string, (pid: number) => unknown][] = [
  ['the whole process group gets SIGINT (Ctrl-C)', (pid) => process.kill(-pid, 'SIGINT')],
  [
    'the launcher gets SIGTERM twice (timeout(1))',
    async (pid) => {
      process.kill(pid, 'SIGTERM');
      // Apart enough that the launcher handles each (two pending signals of one kind would merge into one).
      await delay(100);
      process.kill(pid, 'SIGTERM');
    },
  ],
];

describe('the local start command and its stop signals', () => {
  it.each(stops)(
    'stops each service once, gracefully, when %s',
    async (_name, stop) => {
      launcher = spawn(process.execPath, ['scripts/start-local.mjs', '--free-ports'], {
        cwd: root,
        env: { ...process.env, LOCAL_VERBOSE: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true, // its own process group, whose id is its pid
      });
      const lines: string[] = [];
      const exited = new Promise<void>((resolve) => launcher!.once('exit', () => resolve()));
      const running = new Promise<void>((resolve) => {
        createInterface({ input: launcher!.stdout! }).on('line', (line) => {
          lines.push(line);
          if (line.includes('API router is running')) resolve();
        });
      });
      createInterface({ input: launcher.stderr! }).on('line', (line) => lines.push(line));
      await Promise.race([
        running,
        exited.then(() => {
          throw new Error(`the launcher exited before running:\n${lines.join('\n')}`);
        }),
      ]);
      children = childPids(launcher.pid!);
      expect(children).toHaveLength(4);

      stop(launcher.pid!);
      await exited;

      for (const pid of children) expect(await isPidAlive(pid), `child ${pid}`).toBe(false);
      expect(lines.filter((line) => line.includes('second signal'))).toEqual([]);
      const dataPlaneShutdowns = lines.filter(
        (line) => line.startsWith('[data-plane]') && line.includes('"msg":"shutting down"'),
      );
      expect(dataPlaneShutdowns).toHaveLength(1);
      expect(
        lines.some((line) => line.startsWith('[control-plane]') && line.includes('"msg":"stopped"')),
      ).toBe(true);
    },
    150_000,
  );
});
