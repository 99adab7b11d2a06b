import { setTimeout as delay } from 'node:timers/promises';
import { isErrnoCode, isPidAlive } from './pid-liveness.js';

export interface StopPidOptions {
  /** First signal; default SIGTERM (Postgres uses SIGINT, its "fast" shutdown). */
  signal?: NodeJS.Signals;
  /** How long to wait for the process to exit after `signal` before SIGKILL; default 10 000 ms. */
  graceMs?: number;
  /**
   * Also SIGKILL the process group `pid` when escalating. Set it only for processes spawned `detached`
   * by this package (they lead their own group), so children such as Postgres backends die with them.
   */
  killGroup?: boolean;
}

/**
 * Stops one process by id: `signal`, wait up to `graceMs`, then SIGKILL and wait again. Resolves once the
 * pid is gone (already-gone pids resolve at once). Rejects only if the process survives SIGKILL for 5 s.
 */
export async function stopPid(pid: number, options: StopPidOptions = {}): Promise<void> {
  const graceMs = options.graceMs ?? 10_000;
  if (!(await isPidAlive(pid))) return;
  sendSignal(pid, options.signal ?? 'SIGTERM');
  if (await waitForExit(pid, graceMs)) return;
  if (options.killGroup === true) sendSignal(-pid, 'SIGKILL');
  sendSignal(pid, 'SIGKILL');
  if (await waitForExit(pid, 5_000)) return;
  throw new Error(`stopPid: process ${pid} is still alive after SIGKILL`);
}

/** Polls until `pid` is gone; true when it went within `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (await isPidAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await delay(50);
  }
  return true;
}

function sendSignal(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (error: unknown) {
    // ESRCH: it exited between the liveness check and the signal, which is what we wanted.
    if (!isErrnoCode(error, 'ESRCH')) throw error;
  }
}
