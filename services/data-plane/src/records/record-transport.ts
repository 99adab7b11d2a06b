import { Kafka, logLevel, type LogEntry } from 'kafkajs';
import { createKafkaTransport, type OutboxTransport } from '@api-router/outbox';
import type { Logger } from '@api-router/observability';
import type { RecordsSettings } from '../config.js';
import { createGrpcRecordIngestTransport, RECORD_TOPICS } from './grpc-record-ingest-transport.js';

/** Where records are shipped: Kafka, the control plane, or a transport injected by a test. */
export type RecordTransportKind = 'kafka' | 'control-plane' | 'custom';

/** An outbox transport with the lifecycle of its connection. */
export interface RecordTransport extends OutboxTransport {
  readonly kind: RecordTransportKind;
  /** Closes the connection (Kafka producer, gRPC channel); later sends reject. */
  close(): Promise<void>;
}

export interface RecordTransportOptions {
  records: RecordsSettings;
  /** host:port of the control plane's gRPC listener, used without Kafka. */
  controlPlaneAddress: string;
  dataPlaneId: string;
  logger: Logger;
}

/**
 * The configured transport: Kafka (kafkajs idempotent producer, topics from the settings, message key =
 * request id) when brokers are set, else the control plane's RecordIngestService over gRPC.
 */
export function createRecordTransport(options: RecordTransportOptions): RecordTransport {
  const { kafka } = options.records;
  if (kafka !== undefined) {
    const client = new Kafka({
      clientId: `data-plane-${options.dataPlaneId}`,
      brokers: [...kafka.brokers],
      logLevel: logLevel.WARN,
      logCreator: () => kafkaLogger(options.logger),
    });
    const transport = createKafkaTransport({
      kafka: client,
      topicByKind: { [RECORD_TOPICS.usage]: kafka.usageTopic, [RECORD_TOPICS.audit]: kafka.auditTopic },
    });
    return { kind: 'kafka', send: (records) => transport.send(records), close: () => transport.disconnect() };
  }
  const transport = createGrpcRecordIngestTransport({
    address: options.controlPlaneAddress,
    dataPlaneId: options.dataPlaneId,
    onRejected: (rejections) =>
      // Refused for good by the control plane (a writer bug): visible in the log, not re-sent.
      options.logger.error({ rejections }, 'control plane rejected outbox records'),
  });
  return {
    kind: 'control-plane',
    send: (records) => transport.send(records),
    close: () => {
      transport.close();
      return Promise.resolve();
    },
  };
}

/** kafkajs logs through pino (its default writes to the console). */
function kafkaLogger(logger: Logger): (entry: LogEntry) => void {
  const child = logger.child({ component: 'kafka' });
  return ({ level, log }) => {
    const { message, ...fields } = log;
    if (level <= logLevel.ERROR) child.error(fields, message);
    else if (level === logLevel.WARN) child.warn(fields, message);
    else child.debug(fields, message);
  };
}
