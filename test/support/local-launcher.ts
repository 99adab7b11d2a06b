import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, spawnProcess, stopPid, type SpawnedProcess } from '@api-router/testing';
import { childPids } from './child-pids.js';

// Launchers (`node scripts/start-local.mjs --free-ports`) started by a test, each in a run directory of
// its own (LOCAL_RUN_DIR), so that a test never touches the .tmp/local of a `make start` left running, and
// stopped by pid with every service they started. Built code, as test/start-command.e2e.test.ts says.

/** The line the launcher prints once the data plane is ready. */
export const RUNNING_LINE = 'API router is running';

export interface Launcher {
  process: SpawnedProcess;
  /** The service pids seen so far (the launcher's children), stopped by stopLaunchers. */
  children: number[];
}

const started: Launcher[] = [];
const directories: string[] = [];

/** A fresh temporary directory, removed by stopLaunchers. */
export function temporaryDirectory(prefix: string): string {
  const directory = mkdtempSync(join(tmpdir(), prefix));
  directories.push(directory);
  return directory;
}

/** Starts the launcher with `args` after --free-ports and `runDir` as LOCAL_RUN_DIR; does not wait. */
export async function startLauncher(
  runDir: string,
  args: readonly string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<Launcher> {
  const spawned = await spawnProcess({
    command: process.execPath,
    args: ['scripts/start-local.mjs', '--free-ports', ...args],
    cwd: repoRoot(),
    env: { ...process.env, LOCAL_VERBOSE: '', ...env, LOCAL_RUN_DIR: runDir },
  });
  const launcher: Launcher = { process: spawned, children: [] };
  started.push(launcher);
  return launcher;
}

/** Waits for the launcher's "running" line and records its children. */
export async function waitRunning(launcher: Launcher): Promise<void> {
  await launcher.process.waitForLine((line) => line.includes(RUNNING_LINE), { timeoutMs: 90_000 });
  launcher.children = childPids(launcher.process.pid);
}

/** The data plane URL the launcher printed. */
export function printedDataPlane(launcher: Launcher): string {
  const line = launcher.process.lines.find((text) => /^\s+data plane\s/.test(text)) ?? '';
  const url = /^\s+data plane\s+(http:\/\/\S+)$/.exec(line)?.at(1);
  if (url === undefined) throw new Error(`no data plane URL printed:\n${launcher.process.tail()}`);
  return url;
}

/** Ctrl-C: SIGINT to the launcher, then waits until it and its services are gone. */
export async function stopLauncher(launcher: Launcher): Promise<void> {
  launcher.children = [...new Set([...launcher.children, ...childPids(launcher.process.pid)])];
  await launcher.process.stop({ signal: 'SIGINT', graceMs: 15_000 });
  for (const pid of launcher.children) await stopPid(pid);
}

/** Teardown: stops every launcher started here (and their services), removes the directories. */
export async function stopLaunchers(): Promise<void> {
  for (const launcher of started.splice(0)) await stopLauncher(launcher);
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
}
