import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isPidAlive } from '../process/pid-liveness.js';
import { stopRecordedServices } from './services-state.js';

/** Name of a run directory owned by process `ownerPid`: `run-<ownerPid>-<epoch ms>`. */
export function runDirName(ownerPid: number, nowMs: number): string {
  return `run-${ownerPid}-${nowMs}`;
}

/**
 * Stops the services recorded in run directories under `parentDir` whose owning process is gone (a test
 * run killed before its teardown, e.g. by `timeout`), then deletes those directories. Directories of live
 * owners are left alone. Resolves with the names of the directories cleaned.
 */
export async function reapStaleRuns(parentDir: string): Promise<string[]> {
  const entries = await readdir(parentDir).catch(() => [] as string[]);
  const cleaned: string[] = [];
  for (const entry of entries) {
    const ownerPid = /^run-(\d+)-\d+$/.exec(entry)?.[1];
    if (ownerPid === undefined || (await isPidAlive(Number(ownerPid)))) continue;
    const dir = join(parentDir, entry);
    await stopRecordedServices(dir);
    await rm(dir, { recursive: true, force: true });
    cleaned.push(entry);
  }
  return cleaned;
}
