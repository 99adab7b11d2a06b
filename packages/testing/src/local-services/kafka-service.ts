import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { freePort } from '../process/free-port.js';
import { stopPid } from '../process/stop-pid.js';
import { minimalEnv, startDaemon } from './daemon-process.js';
import { ensureKafkaLibs, type KafkaLibsOptions } from './kafka-distribution.js';
import { randomKafkaClusterId, writeKafkaConfig } from './kafka-config.js';
import { runCommand } from './run-command.js';
import { freshServiceDir } from './service-dir.js';
import type { ServiceHandle, StartServiceOptions } from './service-handle.js';
import { silentLogger } from './service-logger.js';
import { waitUntilReady } from './wait-until-ready.js';

/** Small heap, C1 only and the serial collector: a quick start and little CPU on a shared 2-core box. */
const JVM_OPTIONS = [
  '-Xms128m',
  '-Xmx512m',
  '-XX:+UseSerialGC',
  '-XX:TieredStopAtLevel=1',
  '-Djava.awt.headless=true',
  '-Djava.net.preferIPv4Stack=true',
];

export type StartKafkaOptions = StartServiceOptions & Pick<KafkaLibsOptions, 'cacheDir'>;

/**
 * Starts a single-node Apache Kafka (KRaft, broker and controller in one JVM, data in `<runDir>/kafka`)
 * on 127.0.0.1 and waits until kafkajs can list topics (default 120 s). Fetches the jars first when they
 * are not cached (see ensureKafkaLibs). `url` is the bootstrap broker `127.0.0.1:<port>`. Rejects with the
 * tail of the broker log when it does not come up.
 */
export async function startKafka(options: StartKafkaOptions): Promise<ServiceHandle> {
  const logger = options.logger ?? silentLogger();
  const libsDir = await ensureKafkaLibs({
    logger,
    ...(options.cacheDir === undefined ? {} : { cacheDir: options.cacheDir }),
  });
  const dir = await freshServiceDir(options.runDir, 'kafka');
  const ports = { broker: options.port ?? (await freePort()), controller: await freePort() };
  const config = await writeKafkaConfig(dir, ports);
  const classpath = `${libsDir}/*`;
  const jvm = [
    ...JVM_OPTIONS,
    `-Dlog4j.configuration=file:${config.log4jProperties}`,
    `-Dkafka.logs.dir=${dir}`,
  ];
  const env = minimalEnv();
  const clusterId = randomKafkaClusterId();
  await runCommand(
    'java',
    [
      ...jvm,
      '-cp',
      classpath,
      'kafka.tools.StorageTool',
      'format',
      '-t',
      clusterId,
      '-c',
      config.serverProperties,
      '--ignore-formatted',
    ],
    { cwd: dir, env },
  );
  const daemon = await startDaemon({
    command: 'java',
    args: [...jvm, '-cp', classpath, 'kafka.Kafka', config.serverProperties],
    logFile: join(dir, 'stdout.log'),
    cwd: dir,
    env,
  });
  const url = `127.0.0.1:${ports.broker}`;
  await waitUntilReady({
    name: 'kafka',
    daemon,
    logFile: config.logFile,
    stopSignal: 'SIGTERM',
    timeoutMs: options.readyTimeoutMs ?? 120_000,
    probe: () => probeKafka(url, { clusterId }),
  });
  logger.info({ localService: 'kafka', url, pid: daemon.pid }, 'kafka ready');
  return {
    name: 'kafka',
    dir,
    url,
    pid: daemon.pid,
    logFile: config.logFile,
    stop: () => stopPid(daemon.pid, { signal: 'SIGTERM', graceMs: 30_000, killGroup: true }),
  };
}

/**
 * One metadata round trip (list topics) to `brokers` (comma-separated host:port) without retries. With
 * `expected.clusterId` it also rejects when the broker belongs to another cluster (our port taken).
 */
export async function probeKafka(brokers: string, expected: { clusterId?: string } = {}): Promise<void> {
  const kafka = new Kafka({
    clientId: 'api-router-probe',
    brokers: brokers.split(','),
    connectionTimeout: 2_000,
    requestTimeout: 3_000,
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.listTopics();
    if (expected.clusterId !== undefined) {
      const { clusterId } = await admin.describeCluster();
      if (clusterId !== expected.clusterId)
        throw new Error(`kafka at ${brokers} is cluster ${clusterId}, not ours`);
    }
  } finally {
    await admin.disconnect();
  }
}
