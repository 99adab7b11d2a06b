import { randomUUID } from 'node:crypto';
import { Kafka, Partitioners, logLevel, type EachMessagePayload } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { testServices } from '../src/index.js';

describe('kafka (real broker)', () => {
  const kafka = new Kafka({
    clientId: 'testing-smoke',
    brokers: testServices().KAFKA_BROKERS.split(','),
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  const consumer = kafka.consumer({ groupId: `smoke-${randomUUID()}` });

  afterAll(async () => {
    await Promise.all([consumer.disconnect(), producer.disconnect(), admin.disconnect()]);
  });

  it('creates a topic, produces a keyed message and consumes it with a fresh group', async () => {
    const topic = `smoke-${randomUUID()}`;
    await admin.connect();
    await admin.createTopics({
      topics: [{ topic, numPartitions: 1, replicationFactor: 1 }],
      waitForLeaders: true,
    });
    expect(await admin.listTopics()).toContain(topic);

    await producer.connect();
    await producer.send({ topic, messages: [{ key: 'tenant-1', value: 'hello kafka' }] });

    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const received = new Promise<EachMessagePayload>((resolve) => {
      void consumer.run({ eachMessage: (payload) => Promise.resolve(resolve(payload)) });
    });
    const { message, partition } = await received;
    expect(partition).toBe(0);
    expect(message.key?.toString()).toBe('tenant-1');
    expect(message.value?.toString()).toBe('hello kafka');
  });
});
