import { mkdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isPidAlive, processCwd } from '../process/pid-liveness.js';
import { stopPid } from '../process/stop-pid.js';
import { LOCAL_SERVICES } from './local-services.js';
import { formatServicesEnv, parseEnvLines, pickServicesEnv, type ServicesEnv } from './services-env.js';

/** What `local-services-cli start` leaves behind in its state directory (default .tmp/services). */
export interface ServicesState {
  /** From `services.env`; undefined when the file is missing or incomplete. */
  env: ServicesEnv | undefined;
  /** From `pids`: one `<name> <pid>` per line; names other than the four services are dropped. */
  pids: { name: string; pid: number }[];
}

export const SERVICES_ENV_FILE = 'services.env';
export const PIDS_FILE = 'pids';

/** Records running services: the pids first, so a crash between the two writes still lets `stop` work. */
export async function writeServicesState(
  stateDir: string,
  state: { env: ServicesEnv; pids: ServicesState['pids'] },
): Promise<void> {
  await mkdir(stateDir, { recursive: true });
  await writeFile(join(stateDir, PIDS_FILE), state.pids.map(({ name, pid }) => `${name} ${pid}\n`).join(''));
  await writeFile(join(stateDir, SERVICES_ENV_FILE), formatServicesEnv(state.env));
}

/** Reads what `writeServicesState` wrote; missing files read as empty. */
export async function readServicesState(stateDir: string): Promise<ServicesState> {
  const envText = await readOptional(join(stateDir, SERVICES_ENV_FILE));
  const pidsText = await readOptional(join(stateDir, PIDS_FILE));
  const pids = pidsText.split('\n').flatMap((line) => {
    const [name, pid] = line.trim().split(/\s+/);
    const known = LOCAL_SERVICES.find((service) => service.name === name);
    return known !== undefined && pid !== undefined && /^\d+$/.test(pid)
      ? [{ name: known.name, pid: Number(pid) }]
      : [];
  });
  return { env: pickServicesEnv(parseEnvLines(envText)).env, pids };
}

/** Whether every one of the four services has a recorded pid that is alive. */
export async function allRecordedAlive(state: ServicesState): Promise<boolean> {
  const alive = await Promise.all(
    LOCAL_SERVICES.map(async (service) => {
      const recorded = state.pids.find((entry) => entry.name === service.name);
      return recorded !== undefined && (await isPidAlive(recorded.pid));
    }),
  );
  return alive.every(Boolean);
}

/**
 * Stops every recorded pid with its service's shutdown signal (SIGKILL after its grace period), then
 * removes the state files. A pid whose working directory is known and lies outside `stateDir` has been
 * reused by an unrelated process and is left alone. Resolves with the names stopped.
 */
export async function stopRecordedServices(stateDir: string): Promise<string[]> {
  const state = await readServicesState(stateDir);
  const ours = await Promise.all(
    state.pids.map(async (entry) => ((await isOurs(entry.pid, stateDir)) ? [entry] : [])),
  );
  const toStop = ours.flat();
  await Promise.all(
    toStop.map(async ({ name, pid }) => {
      const service = LOCAL_SERVICES.find((candidate) => candidate.name === name);
      await stopPid(pid, {
        signal: service?.stopSignal ?? 'SIGTERM',
        graceMs: service?.graceMs ?? 10_000,
        killGroup: true,
      });
    }),
  );
  await rm(join(stateDir, SERVICES_ENV_FILE), { force: true });
  await rm(join(stateDir, PIDS_FILE), { force: true });
  return toStop.map(({ name }) => name);
}

/** Our servers run with their working directory inside the state directory (see startDaemon's cwd). */
async function isOurs(pid: number, stateDir: string): Promise<boolean> {
  if (!(await isPidAlive(pid))) return false;
  const cwd = await processCwd(pid);
  // /proc reports the resolved path; resolve ours too in case the checkout sits behind a symlink.
  const dir = await realpath(stateDir).catch(() => stateDir);
  return cwd === undefined || cwd === dir || cwd.startsWith(`${dir}/`);
}

async function readOptional(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    // Not there yet: no services recorded.
    return '';
  }
}
