import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface KafkaConfigFiles {
  serverProperties: string;
  log4jProperties: string;
  /** Broker log written by log4j. */
  logFile: string;
}

/**
 * Writes server.properties for a single-node KRaft broker+controller on 127.0.0.1 (replication factors of
 * the internal topics 1, no rebalance delay, topics auto-created, few threads: tests share 2 cores) and a
 * log4j config that logs to `<dir>/kafka.log` instead of stdout.
 */
export async function writeKafkaConfig(
  dir: string,
  ports: { broker: number; controller: number },
): Promise<KafkaConfigFiles> {
  const serverProperties = join(dir, 'server.properties');
  const log4jProperties = join(dir, 'log4j.properties');
  const logFile = join(dir, 'kafka.log');
  const server = {
    'process.roles': 'broker,controller',
    'node.id': '1',
    'controller.quorum.voters': `1@127.0.0.1:${ports.controller}`,
    listeners: `PLAINTEXT://127.0.0.1:${ports.broker},CONTROLLER://127.0.0.1:${ports.controller}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${ports.broker}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    'log.dirs': join(dir, 'data'),
    'num.partitions': '1',
    'default.replication.factor': '1',
    'offsets.topic.replication.factor': '1',
    'offsets.topic.num.partitions': '5',
    'transaction.state.log.replication.factor': '1',
    'transaction.state.log.min.isr': '1',
    'transaction.state.log.num.partitions': '5',
    'group.initial.rebalance.delay.ms': '0',
    'auto.create.topics.enable': 'true',
    'delete.topic.enable': 'true',
    'num.network.threads': '2',
    'num.io.threads': '2',
    'background.threads': '2',
    'num.recovery.threads.per.data.dir': '1',
    'log.cleaner.threads': '1',
  };
  const log4j = {
    'log4j.rootLogger': 'INFO, file',
    'log4j.appender.file': 'org.apache.log4j.FileAppender',
    'log4j.appender.file.File': logFile,
    'log4j.appender.file.layout': 'org.apache.log4j.PatternLayout',
    'log4j.appender.file.layout.ConversionPattern': '[%d] %p %m (%c)%n',
    'log4j.logger.kafka.request.logger': 'WARN',
    'log4j.logger.state.change.logger': 'WARN',
  };
  await writeFile(serverProperties, toProperties(server));
  await writeFile(log4jProperties, toProperties(log4j));
  return { serverProperties, log4jProperties, logFile };
}

/** A random KRaft cluster id: 16 bytes, URL-safe base64 without padding (Kafka's Uuid text form). */
export function randomKafkaClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    // Kafka reserves ids that start with '-' for internal use in some tools; draw again.
    if (!id.startsWith('-')) return id;
  }
}

function toProperties(entries: Record<string, string>): string {
  return `${Object.entries(entries)
    .map(([key, value]) => `${key}=${value}`)
    .join('\n')}\n`;
}
