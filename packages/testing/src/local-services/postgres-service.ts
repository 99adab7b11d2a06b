import { chmod, chown, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../process/free-port.js';
import { stopPid } from '../process/stop-pid.js';
import { minimalEnv, startDaemon } from './daemon-process.js';
import { runCommand } from './run-command.js';
import { freshServiceDir, outsideServiceDir } from './service-dir.js';
import type { ServiceHandle, StartServiceOptions } from './service-handle.js';
import { silentLogger } from './service-logger.js';
import { waitUntilReady } from './wait-until-ready.js';

/** Postgres's "fast" shutdown: SIGTERM would be "smart" and wait for every client to disconnect. */
export const POSTGRES_STOP_SIGNAL: NodeJS.Signals = 'SIGINT';

/**
 * Starts a private PostgreSQL cluster on 127.0.0.1 (trust auth, user and database "postgres", no unix
 * socket, fsync off; data in `<runDir>/postgres/data`) and waits until `SELECT 1` works (default 60 s).
 * As root, initdb and the server run as the "postgres" system user, which must exist; when it cannot
 * traverse `runDir` (a checkout under a 0700 directory, e.g. one made by mktemp -d), the cluster lives in a
 * directory of its own under the system temp directory instead, removed when the server is stopped.
 * Rejects with the tail of the server log when it does not come up.
 */
export async function startPostgres(options: StartServiceOptions): Promise<ServiceHandle> {
  const logger = options.logger ?? silentLogger();
  const binDir = await postgresBinDir();
  const owner = await serverUser();
  const { dir, outsideRunDir } = await clusterDir(options.runDir, owner);
  const dataDir = join(dir, 'data');
  const env = minimalEnv();
  await runCommand(
    join(binDir, 'initdb'),
    [
      '-D',
      dataDir,
      '-U',
      'postgres',
      '--auth=trust',
      '-E',
      'UTF8',
      '--no-locale',
      '--no-sync',
      '--no-instructions',
    ],
    { cwd: dir, env, ...owner },
  );
  const port = options.port ?? (await freePort());
  const logFile = join(dir, 'postgres.log');
  const daemon = await startDaemon({
    command: join(binDir, 'postgres'),
    args: [
      '-D',
      dataDir,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=200',
    ],
    logFile,
    cwd: dir,
    env,
    ...owner,
  });
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  await waitUntilReady({
    name: 'postgres',
    daemon,
    logFile,
    stopSignal: POSTGRES_STOP_SIGNAL,
    timeoutMs: options.readyTimeoutMs ?? 60_000,
    probe: () => probePostgres(url, { dataDir }),
  });
  logger.info({ localService: 'postgres', url, pid: daemon.pid }, 'postgres ready');
  return {
    name: 'postgres',
    url,
    pid: daemon.pid,
    logFile,
    dir,
    stop: async () => {
      await stopPid(daemon.pid, { signal: POSTGRES_STOP_SIGNAL, graceMs: 15_000, killGroup: true });
      if (outsideRunDir) await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * `<runDir>/postgres`, fresh and owned by the server's user; or, when that user cannot reach it (as root,
 * the "postgres" user, and a parent of `runDir` without search permission for others), a new directory
 * under the system temp directory.
 */
async function clusterDir(
  runDir: string,
  owner: { uid?: number; gid?: number },
): Promise<{ dir: string; outsideRunDir: boolean }> {
  const dir = await freshServiceDir(runDir, 'postgres');
  if (owner.uid === undefined || owner.gid === undefined) return { dir, outsideRunDir: false };
  await chown(dir, owner.uid, owner.gid);
  const reachable = await runCommand('test', ['-x', dir], owner).then(
    () => true,
    () => false,
  );
  if (reachable) return { dir, outsideRunDir: false };
  const outside = await outsideServiceDir('postgres');
  await chmod(outside, 0o755);
  await chown(outside, owner.uid, owner.gid);
  return { dir: outside, outsideRunDir: true };
}

/**
 * One `SELECT 1` with a 2 s connect timeout; rejects when it fails. With `expected.dataDir` it also rejects
 * when the server answering serves another data directory (our port taken by someone else).
 */
export async function probePostgres(url: string, expected: { dataDir?: string } = {}): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  // Errors after connect (server going away) surface through the awaited calls below.
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    if (expected.dataDir !== undefined) {
      const result = await client.query<{ data_directory: string }>('SHOW data_directory');
      const dataDir = result.rows[0]?.data_directory;
      if (dataDir !== expected.dataDir) throw new Error(`postgres at ${url} serves ${dataDir}, not ours`);
    }
  } finally {
    await client.end().catch(() => undefined); // end() after a failed connect may reject; nothing to clean.
  }
}

/** Newest /usr/lib/postgresql/<major>/bin (Debian's layout). */
async function postgresBinDir(): Promise<string> {
  const root = '/usr/lib/postgresql';
  const majors = (await readdir(root).catch(() => [] as string[]))
    .filter((entry) => /^\d+$/.test(entry))
    .sort((a, b) => Number(b) - Number(a));
  const newest = majors[0];
  if (newest === undefined)
    throw new Error(`no PostgreSQL server under ${root} (apt-get install postgresql)`);
  return join(root, newest, 'bin');
}

/** Postgres refuses to run as root: as root, use the "postgres" system user; otherwise ourselves. */
async function serverUser(): Promise<{ uid?: number; gid?: number }> {
  if (process.getuid?.() !== 0) return {};
  const uid = Number((await runCommand('id', ['-u', 'postgres'])).trim());
  const gid = Number((await runCommand('id', ['-g', 'postgres'])).trim());
  return { uid, gid };
}
