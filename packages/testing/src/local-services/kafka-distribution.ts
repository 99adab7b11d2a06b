import { access, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ServiceLogger } from './service-logger.js';
import { repoRoot } from '../repo-root.js';
import { runCommand } from './run-command.js';
import { silentLogger } from './service-logger.js';

/**
 * Apache Kafka version run for tests; keep deploy/local/kafka/pom.xml's default equal. 3.9.x is the last
 * line whose protocol versions kafkajs 2.2.4 speaks: Kafka 4.0 dropped the old request versions it sends.
 */
export const KAFKA_VERSION = '3.9.1';

export interface KafkaLibsOptions {
  /** Default `~/.cache/api-router/kafka-<version>`; the jars go to its `libs/`. */
  cacheDir?: string;
  logger?: ServiceLogger;
}

/** Where the Kafka jars are kept between runs unless a cache dir is given. */
export function defaultKafkaCacheDir(): string {
  return join(homedir(), '.cache', 'api-router', `kafka-${KAFKA_VERSION}`);
}

/**
 * Returns the directory holding the broker's jars, fetching them from Maven Central with
 * `mvn dependency:copy-dependencies` (deploy/local/kafka/pom.xml) when they are not cached yet. The fetch
 * goes to a temporary directory renamed into place, so concurrent callers never see half a download.
 * Rejects with Maven's output when the fetch fails (no network to Maven Central, no `mvn`).
 */
export async function ensureKafkaLibs(options: KafkaLibsOptions = {}): Promise<string> {
  const logger = options.logger ?? silentLogger();
  const cacheDir = options.cacheDir ?? defaultKafkaCacheDir();
  const libsDir = join(cacheDir, 'libs');
  if (await hasBrokerJar(libsDir)) return libsDir;
  await mkdir(cacheDir, { recursive: true });
  const staging = join(cacheDir, `libs.partial-${process.pid}-${Date.now()}`);
  logger.info(
    { localService: 'kafka', version: KAFKA_VERSION, libsDir },
    'fetching Kafka jars from Maven Central',
  );
  try {
    await runCommand(
      'mvn',
      [
        '-q',
        '-B',
        '-f',
        join(repoRoot(), 'deploy', 'local', 'kafka', 'pom.xml'),
        `-Dkafka.version=${KAFKA_VERSION}`,
        'dependency:copy-dependencies',
        `-DoutputDirectory=${staging}`,
      ],
      { timeoutMs: 600_000 },
    );
    if (!(await hasBrokerJar(staging)))
      throw new Error(`mvn finished but ${staging} has no Kafka broker jar`);
    await rename(staging, libsDir).catch(async (error: unknown) => {
      // Another process finished the same fetch first: its copy is as good as ours.
      if (!(await hasBrokerJar(libsDir))) throw error;
    });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return libsDir;
}

async function hasBrokerJar(libsDir: string): Promise<boolean> {
  try {
    await access(libsDir);
    const jars = await readdir(libsDir);
    return (
      jars.includes(`kafka_2.13-${KAFKA_VERSION}.jar`) && jars.includes(`kafka-clients-${KAFKA_VERSION}.jar`)
    );
  } catch {
    // Missing or unreadable: treated as not fetched yet.
    return false;
  }
}
