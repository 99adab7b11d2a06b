import { mkdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isPidAlive, processCwd } from '../process/pid-liveness.js';
import { stopPid } from '../process/stop-pid.js';
import { LOCAL_SERVICES } from './local-services.js';
import { isOutsideServiceDir } from './service-dir.js';
import { formatServicesEnv, parseEnvLines, pickServicesEnv, type ServicesEnv } from './services-env.js';

/** What `local-services-cli start` leaves behind in its state directory (default .tmp/services). */
export interface ServicesState {
  /** From `services.env`; undefined when the file is missing or incomplete. */
  env: ServicesEnv | undefined;
  /** From `pids`; names other than the four services are dropped. */
  pids: RecordedService[];
}

/** One line of `pids`: `<name> <pid> <dir>` (the server's working directory; absent in older files). */
export interface RecordedService {
  name: string;
  pid: number;
  dir?: string;
}

export const SERVICES_ENV_FILE = 'services.env';
export const PIDS_FILE = 'pids';

/** Records running services: the pids first, so a crash between the two writes still lets `stop` work. */
export async function writeServicesState(
  stateDir: string,
  state: { env: ServicesEnv; pids: ServicesState['pids'] },
): Promise<void> {
  await mkdir(stateDir, { recursive: true });
  const lines = state.pids.map(
    ({ name, pid, dir }) => `${name} ${pid}${dir === undefined ? '' : ` ${dir}`}\n`,
  );
  await writeFile(join(stateDir, PIDS_FILE), lines.join(''));
  await writeFile(join(stateDir, SERVICES_ENV_FILE), formatServicesEnv(state.env));
}

/** Reads what `writeServicesState` wrote; missing files read as empty. */
export async function readServicesState(stateDir: string): Promise<ServicesState> {
  const envText = await readOptional(join(stateDir, SERVICES_ENV_FILE));
  const pidsText = await readOptional(join(stateDir, PIDS_FILE));
  const pids = pidsText.split('\n').flatMap((line): RecordedService[] => {
    const [, name, pid, dir] = /^(\S+)\s+(\d+)(?:\s+(.+))?$/.exec(line.trim()) ?? [];
    const known = LOCAL_SERVICES.find((service) => service.name === name);
    if (known === undefined || pid === undefined) return [];
    return [
      dir === undefined
        ? { name: known.name, pid: Number(pid) }
        : { name: known.name, pid: Number(pid), dir },
    ];
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
 * Stops every recorded pid with its service's shutdown signal (SIGKILL after its grace period), removes
 * the directories of those kept outside `stateDir` (postgres when its user cannot reach `stateDir`), then
 * the state files. A pid whose working directory is known and is neither inside `stateDir` nor its recorded
 * directory has been reused by an unrelated process and is left alone. Resolves with the names stopped.
 */
export async function stopRecordedServices(stateDir: string): Promise<string[]> {
  const state = await readServicesState(stateDir);
  const ours = await Promise.all(
    state.pids.map(async (entry) => ((await isOurs(entry, stateDir)) ? [entry] : [])),
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
  // Also for entries not stopped here (already dead): nothing else would ever remove their directories.
  for (const { dir } of state.pids) {
    if (dir !== undefined && isOutsideServiceDir(dir)) await rm(dir, { recursive: true, force: true });
  }
  await rm(join(stateDir, SERVICES_ENV_FILE), { force: true });
  await rm(join(stateDir, PIDS_FILE), { force: true });
  return toStop.map(({ name }) => name);
}

/** Our servers run in (or below) their recorded directory or, for older records, the state directory. */
async function isOurs(entry: RecordedService, stateDir: string): Promise<boolean> {
  if (!(await isPidAlive(entry.pid))) return false;
  const cwd = await processCwd(entry.pid);
  if (cwd === undefined) return true;
  // /proc reports resolved paths; ours are resolved too in case a directory sits behind a symlink.
  // Postgres moves into its data directory, below the recorded one.
  const within = async (path: string): Promise<boolean> => {
    const dir = await realpath(path).catch(() => path);
    return cwd === dir || cwd.startsWith(`${dir}/`);
  };
  return (await within(stateDir)) || (entry.dir !== undefined && (await within(entry.dir)));
}

async function readOptional(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    // Not there yet: no services recorded.
    return '';
  }
}
