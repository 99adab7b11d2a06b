import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import type { ProcessExit } from '../process/spawned-process.js';

export interface DaemonSpec {
  command: string;
  args: readonly string[];
  /** stdout and stderr are appended here. */
  logFile: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Run as this user and group (root only); Postgres refuses to run as root. */
  uid?: number;
  gid?: number;
}

export interface DaemonProcess {
  pid: number;
  /** Resolves when the process exits while this Node process is still around; never rejects. */
  exited: Promise<ProcessExit>;
}

/**
 * Starts a long-running server detached (its own process group, no pipes back to us), so it outlives the
 * CLI that started it and is stopped later by pid. Rejects when it cannot be spawned.
 */
export async function startDaemon(spec: DaemonSpec): Promise<DaemonProcess> {
  const logFd = openSync(spec.logFile, 'a');
  try {
    const child = spawn(spec.command, [...spec.args], {
      cwd: spec.cwd,
      env: spec.env ?? minimalEnv(),
      detached: true,
      stdio: ['ignore', logFd, logFd],
      ...(spec.uid === undefined ? {} : { uid: spec.uid }),
      ...(spec.gid === undefined ? {} : { gid: spec.gid }),
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    if (child.pid === undefined) throw new Error(`${spec.command}: spawned without a pid`);
    const exited = new Promise<ProcessExit>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    child.unref();
    return { pid: child.pid, exited };
  } finally {
    closeSync(logFd);
  }
}

/**
 * PATH, HOME and a locale only: settings meant for our own code (ETCD_*, KAFKA_*, PG*) must not leak into
 * the servers.
 */
export function minimalEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: '/tmp',
    LANG: 'C.UTF-8',
    ...extra,
  };
}
