import type { Kafka, Producer, ProducerBatch, ProducerConfig } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { createKafkaTransport, OUTBOX_SEQ_HEADER } from './kafka-transport.js';
import type { OutboxRecord } from './outbox-record.js';

/** A kafkajs client whose producer records its config and batches. */
function fakeKafka(options: { failConnects?: number } = {}) {
  const configs: ProducerConfig[] = [];
  const batches: ProducerBatch[] = [];
  let connects = 0;
  let disconnects = 0;
  let failConnects = options.failConnects ?? 0;
  const producer = {
    connect: () => {
      connects += 1;
      if (failConnects > 0) {
        failConnects -= 1;
        return Promise.reject(new Error('ECONNREFUSED'));
      }
      return Promise.resolve();
    },
    disconnect: () => {
      disconnects += 1;
      return Promise.resolve();
    },
    sendBatch: (batch: ProducerBatch) => {
      batches.push(batch);
      return Promise.resolve([]);
    },
  };
  const kafka: Pick<Kafka, 'producer'> = {
    producer: (config?: ProducerConfig) => {
      configs.push(config ?? {});
      return producer as unknown as Producer;
    },
  };
  return { kafka, configs, batches, counts: () => ({ connects, disconnects }) };
}

function record(seq: number, topic: string): OutboxRecord {
  return { seq, key: `req-${seq}`, topic, payload: Buffer.from(`payload ${seq}`), appendedAtMs: 0 };
}

describe('createKafkaTransport', () => {
  it('uses an idempotent producer with one request in flight and acks from all in-sync replicas', async () => {
    const fake = fakeKafka();
    const transport = createKafkaTransport({ kafka: fake.kafka, topicByKind: { usage: 'router.usage.v1' } });
    expect(fake.configs).toEqual([expect.objectContaining({ idempotent: true, maxInFlightRequests: 1 })]);
    await transport.send([record(1, 'usage')]);
    expect(fake.batches[0]).toMatchObject({ acks: -1 });
  });

  it('maps kinds to topics and keys each message by the record key', async () => {
    const fake = fakeKafka();
    const transport = createKafkaTransport({
      kafka: fake.kafka,
      topicByKind: { usage: 'router.usage.v1', audit: 'router.audit.v1' },
    });
    await transport.send([record(1, 'usage'), record(2, 'audit'), record(3, 'usage')]);
    const sent = fake.batches[0]!.topicMessages!.map((entry) => ({
      topic: entry.topic,
      messages: entry.messages.map((message) => ({
        key: message.key,
        value: String(message.value),
        seq: message.headers?.[OUTBOX_SEQ_HEADER],
      })),
    }));
    expect(sent).toEqual([
      {
        topic: 'router.usage.v1',
        messages: [
          { key: 'req-1', value: 'payload 1', seq: '1' },
          { key: 'req-3', value: 'payload 3', seq: '3' },
        ],
      },
      { topic: 'router.audit.v1', messages: [{ key: 'req-2', value: 'payload 2', seq: '2' }] },
    ]);
  });

  it('fails the whole batch (sending nothing) for a kind with no topic', async () => {
    const fake = fakeKafka();
    const transport = createKafkaTransport({ kafka: fake.kafka, topicByKind: { usage: 'router.usage.v1' } });
    await expect(transport.send([record(1, 'usage'), record(2, 'billing')])).rejects.toThrow(/billing/);
    await expect(transport.send([record(3, 'toString')])).rejects.toThrow(/toString/);
    expect(fake.batches).toEqual([]);
  });

  it('connects lazily, retries a failed connect on the next send, and disconnects on dispose', async () => {
    const fake = fakeKafka({ failConnects: 1 });
    const transport = createKafkaTransport({ kafka: fake.kafka, topicByKind: { usage: 'u' } });
    expect(fake.counts().connects).toBe(0);
    await expect(transport.send([record(1, 'usage')])).rejects.toThrow('ECONNREFUSED');
    await transport.send([record(1, 'usage')]);
    await transport.send([record(2, 'usage')]);
    expect(fake.counts().connects).toBe(2);
    await transport[Symbol.asyncDispose]();
    expect(fake.counts().disconnects).toBe(1);
  });
});
