import {
  Partitioners,
  type Kafka,
  type Message,
  type Producer,
  type ProducerConfig,
  type TopicMessages,
} from 'kafkajs';
import type { OutboxRecord } from './outbox-record.js';
import type { OutboxTransport } from './outbox-transport.js';

export interface KafkaTransportOptions {
  /** A kafkajs client; the transport creates (and owns) one idempotent producer from it. */
  kafka: Pick<Kafka, 'producer'>;
  /** Kafka topic for each record `topic` (kind), e.g. `{ usage: 'router.usage.v1' }`. A kind missing here fails the batch (and the shipper retries and alerts), never drops it. */
  topicByKind: Readonly<Record<string, string>>;
  /** How long the brokers may take to acknowledge a batch, in ms (default 30 000). */
  ackTimeoutMs?: number;
  /** Extra producer settings; idempotence, in-flight limit and partitioner are fixed by the transport. */
  producer?: Pick<ProducerConfig, 'retry' | 'metadataMaxAge' | 'allowAutoTopicCreation'>;
}

/** The Kafka transport: `send` plus its producer's lifecycle (connect lazily on first send, disconnect on dispose). */
export interface KafkaTransport extends OutboxTransport, AsyncDisposable {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
}

/** Header carrying the outbox seq (per data-plane instance; for debugging, not for dedupe: dedupe on the key). */
export const OUTBOX_SEQ_HEADER = 'outbox-seq';

/**
 * Ships outbox records to Kafka with an idempotent producer (`idempotent: true`, `acks: -1`, one request in
 * flight, so producer retries neither duplicate nor reorder within a partition). Message key = record key
 * (the request id) so the default partitioner keeps a request's records together and consumers can dedupe
 * replays after a crash. A batch resolves only when every partition leader has it in-sync replicated.
 */
export function createKafkaTransport(options: KafkaTransportOptions): KafkaTransport {
  const producer: Producer = options.kafka.producer({
    ...options.producer,
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  let connecting: Promise<void> | undefined;
  const connect = (): Promise<void> => {
    connecting ??= producer.connect().catch((error: unknown) => {
      connecting = undefined; // the next send tries again
      throw error;
    });
    return connecting;
  };
  const disconnect = async (): Promise<void> => {
    if (connecting === undefined) return;
    connecting = undefined;
    await producer.disconnect();
  };
  return {
    connect,
    disconnect,
    [Symbol.asyncDispose]: disconnect,
    async send(records) {
      const topicMessages = groupByTopic(records, options.topicByKind);
      await connect();
      await producer.sendBatch({ topicMessages, acks: -1, timeout: options.ackTimeoutMs ?? 30_000 });
    },
  };
}

function groupByTopic(
  records: readonly OutboxRecord[],
  topicByKind: Readonly<Record<string, string>>,
): TopicMessages[] {
  const byTopic = new Map<string, Message[]>();
  for (const record of records) {
    const topic = Object.hasOwn(topicByKind, record.topic) ? topicByKind[record.topic] : undefined;
    if (topic === undefined)
      throw new Error(`no Kafka topic configured for outbox kind "${record.topic}" (seq ${record.seq})`);
    let messages = byTopic.get(topic);
    if (messages === undefined) {
      messages = [];
      byTopic.set(topic, messages);
    }
    messages.push({
      key: record.key,
      value: Buffer.from(record.payload.buffer, record.payload.byteOffset, record.payload.byteLength),
      headers: { [OUTBOX_SEQ_HEADER]: String(record.seq) },
    });
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}
