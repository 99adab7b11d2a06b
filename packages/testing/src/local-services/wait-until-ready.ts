import { setTimeout as delay } from 'node:timers/promises';
import { readLogTail } from '../process/log-tail.js';
import { stopPid } from '../process/stop-pid.js';
import type { DaemonProcess } from './daemon-process.js';

export interface WaitUntilReadyOptions {
  name: string;
  daemon: DaemonProcess;
  /** One bounded attempt: resolves when the service answers, rejects otherwise. */
  probe: () => Promise<void>;
  timeoutMs: number;
  logFile: string;
  /** Signal that stops the daemon if it never became ready. */
  stopSignal: NodeJS.Signals;
}

/**
 * Probes every 250 ms until the service answers. When it exits first or `timeoutMs` passes, the daemon is
 * stopped by pid and the rejection carries the last probe error and the tail of the service's log.
 */
export async function waitUntilReady(options: WaitUntilReadyOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let exit: string | undefined;
  void options.daemon.exited.then((info) => {
    exit = `exited with ${info.code ?? info.signal}`;
  });
  let lastError: unknown;
  while (exit === undefined && Date.now() < deadline) {
    try {
      await options.probe();
      return;
    } catch (error: unknown) {
      lastError = error;
    }
    await delay(250);
  }
  await stopPid(options.daemon.pid, { signal: options.stopSignal, graceMs: 5_000, killGroup: true });
  const reason = exit ?? `did not answer within ${options.timeoutMs} ms`;
  const probeError = lastError instanceof Error ? lastError.message : String(lastError);
  const tail = await readLogTail(options.logFile);
  throw new Error(
    `${options.name} (pid ${options.daemon.pid}) ${reason}; last probe error: ${probeError}\n` +
      `--- ${options.logFile} (tail)\n${tail}`,
    { cause: lastError },
  );
}
