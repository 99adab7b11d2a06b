import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../process/free-port.js';
import { stopPid } from '../process/stop-pid.js';
import { startDaemon } from './daemon-process.js';
import { freshServiceDir } from './service-dir.js';
import type { ServiceHandle, StartServiceOptions } from './service-handle.js';
import { silentLogger } from './service-logger.js';
import { waitUntilReady } from './wait-until-ready.js';

/** Debian's redis-server; Redis 7 on this machine kind. */
const REDIS_SERVER = '/usr/bin/redis-server';

/**
 * Starts a private redis-server on 127.0.0.1 (no persistence, data dir `<runDir>/redis`) and waits until
 * it answers PING (default 15 s). Rejects with the tail of its log when it does not.
 */
export async function startRedis(options: StartServiceOptions): Promise<ServiceHandle> {
  const logger = options.logger ?? silentLogger();
  const dir = await freshServiceDir(options.runDir, 'redis');
  const port = options.port ?? (await freePort());
  const logFile = join(dir, 'redis.log');
  const daemon = await startDaemon({
    command: REDIS_SERVER,
    args: [
      '--bind',
      '127.0.0.1',
      '--port',
      String(port),
      '--protected-mode',
      'no',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      '--logfile',
      logFile,
      '--daemonize',
      'no',
    ],
    logFile: join(dir, 'stdout.log'),
    cwd: dir,
  });
  const url = `redis://127.0.0.1:${port}`;
  await waitUntilReady({
    name: 'redis',
    daemon,
    logFile,
    stopSignal: 'SIGTERM',
    timeoutMs: options.readyTimeoutMs ?? 15_000,
    probe: () => probeRedis(url, { pid: daemon.pid }),
  });
  logger.info({ localService: 'redis', url, pid: daemon.pid }, 'redis ready');
  return {
    name: 'redis',
    dir,
    url,
    pid: daemon.pid,
    logFile,
    stop: () => stopPid(daemon.pid, { signal: 'SIGTERM', killGroup: true }),
  };
}

/**
 * One PING with a 2 s connect timeout and no retries; rejects unless the answer is PONG. With `expected.pid`
 * it also rejects when the server answering is another process (our port taken by someone else).
 */
export async function probeRedis(url: string, expected: { pid?: number } = {}): Promise<void> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 2_000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // A failed connect emits 'error' and then rejects with a vaguer "Connection is closed": keep the first.
  let connectError: unknown;
  client.on('error', (error: unknown) => {
    connectError ??= error;
  });
  try {
    await client.connect().catch((error: unknown) => {
      throw connectError ?? error;
    });
    const answer: string = await client.ping();
    if (answer !== 'PONG') throw new Error(`redis at ${url} answered PING with ${answer}`);
    if (expected.pid !== undefined) {
      const info: string = await client.info('server');
      const pid = /^process_id:(\d+)/m.exec(info)?.[1];
      if (pid !== String(expected.pid))
        throw new Error(`redis at ${url} is pid ${pid}, not ours (${expected.pid})`);
    }
  } finally {
    client.disconnect();
  }
}
