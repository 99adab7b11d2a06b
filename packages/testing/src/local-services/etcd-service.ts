import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { freePort } from '../process/free-port.js';
import { stopPid } from '../process/stop-pid.js';
import { startDaemon } from './daemon-process.js';
import { freshServiceDir } from './service-dir.js';
import type { ServiceHandle, StartServiceOptions } from './service-handle.js';
import { silentLogger } from './service-logger.js';
import { waitUntilReady } from './wait-until-ready.js';

/** Debian's etcd-server package (3.4.x); deploy/local/services.sh installs it when missing. */
export const ETCD = '/usr/bin/etcd';

/**
 * Starts a private single-member etcd on 127.0.0.1 (client port `port` or a free one, peer port free; data
 * in `<runDir>/etcd/data`) and waits until a range read answers (default 30 s). Rejects with the tail of
 * its log when it does not.
 */
export async function startEtcd(options: StartServiceOptions): Promise<ServiceHandle> {
  const logger = options.logger ?? silentLogger();
  const dir = await freshServiceDir(options.runDir, 'etcd');
  const clientPort = options.port ?? (await freePort());
  const peerPort = await freePort();
  const url = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const logFile = join(dir, 'etcd.log');
  const daemon = await startDaemon({
    command: ETCD,
    args: etcdMemberArgs({ name: 'local', dataDir: join(dir, 'data'), url, peerUrl, logFile }),
    logFile: join(dir, 'stdout.log'),
    cwd: dir,
  });
  await waitUntilReady({
    name: 'etcd',
    daemon,
    logFile,
    stopSignal: 'SIGTERM',
    timeoutMs: options.readyTimeoutMs ?? 30_000,
    probe: () => probeEtcd(url, { peerUrl }),
  });
  logger.info({ localService: 'etcd', url, pid: daemon.pid }, 'etcd ready');
  return {
    name: 'etcd',
    dir,
    url,
    pid: daemon.pid,
    logFile,
    stop: () => stopPid(daemon.pid, { signal: 'SIGTERM', killGroup: true }),
  };
}

/** The command line of a new single-member etcd cluster on `url` (client) and `peerUrl`, logging to `logFile`. */
export function etcdMemberArgs(member: {
  name: string;
  dataDir: string;
  url: string;
  peerUrl: string;
  logFile: string;
}): string[] {
  const { name, dataDir, url, peerUrl, logFile } = member;
  return [
    '--name',
    name,
    '--data-dir',
    dataDir,
    '--listen-client-urls',
    url,
    '--advertise-client-urls',
    url,
    '--listen-peer-urls',
    peerUrl,
    '--initial-advertise-peer-urls',
    peerUrl,
    '--initial-cluster',
    `${name}=${peerUrl}`,
    '--initial-cluster-state',
    'new',
    '--logger',
    'zap',
    '--log-outputs',
    logFile,
  ];
}

/**
 * One range read against `endpoints` (comma-separated URLs), given up after 3 s: the client's own retry
 * policy would otherwise keep a dead endpoint waiting much longer. With `expected.peerUrl` it also rejects
 * unless the cluster has a member with that peer URL (our port taken by someone else).
 */
export async function probeEtcd(endpoints: string, expected: { peerUrl?: string } = {}): Promise<void> {
  const client = new Etcd3({ hosts: endpoints.split(','), dialTimeout: 2_000 });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      (async () => {
        await client.get('api-router/probe').string();
        if (expected.peerUrl === undefined) return;
        const { members } = await client.cluster.memberList({});
        if (!members.some((member) => member.peerURLs.includes(expected.peerUrl ?? ''))) {
          throw new Error(`etcd at ${endpoints} has no member with peer URL ${expected.peerUrl}`);
        }
      })(),
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(
          () => reject(new Error(`etcd at ${endpoints} did not answer within 3000 ms`)),
          3_000,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
    client.close();
  }
}
