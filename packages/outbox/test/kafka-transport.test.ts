import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testServices } from '@api-router/testing';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { afterAll, beforeAll, beforeEach, afterEach, describe, expect, it } from 'vitest';
import {
  createKafkaTransport,
  Outbox,
  Shipper,
  type KafkaTransport,
  type OutboxRecord,
  type OutboxTransport,
} from '../src/index.js';

interface Received {
  topic: string;
  key: string;
  value: string;
}

/** Consumes `topics` from the beginning until `keys` have all been seen (or the timeout passes). */
async function consumeUntil(
  kafka: Kafka,
  topics: string[],
  keys: Set<string>,
  timeoutMs = 45_000,
): Promise<Received[]> {
  const consumer: Consumer = kafka.consumer({ groupId: `outbox-it-${randomUUID()}` });
  const received: Received[] = [];
  const seen = new Set<string>();
  try {
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`saw ${seen.size} of ${keys.size} keys within ${timeoutMs} ms`)),
        timeoutMs,
      );
      consumer
        .run({
          eachMessage: ({ topic, message }) => {
            const key = message.key?.toString() ?? '';
            received.push({ topic, key, value: message.value?.toString() ?? '' });
            seen.add(key);
            if ([...keys].every((wanted) => seen.has(wanted))) {
              clearTimeout(timer);
              resolve();
            }
            return Promise.resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return received;
}

describe('Kafka transport against a real broker', () => {
  let kafka: Kafka;
  let directory: string;
  let topics: { usage: string; audit: string };
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(() => {
    kafka = new Kafka({
      clientId: 'outbox-it',
      brokers: testServices().KAFKA_BROKERS.split(','),
      logLevel: logLevel.NOTHING,
    });
  });
  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'outbox-kafka-'));
    const run = randomUUID().slice(0, 8);
    topics = { usage: `outbox-it-usage-${run}`, audit: `outbox-it-audit-${run}` };
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({
        waitForLeaders: true,
        topics: Object.values(topics).map((topic) => ({ topic, numPartitions: 3, replicationFactor: 1 })),
      });
    } finally {
      await admin.disconnect();
    }
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await rm(directory, { recursive: true, force: true });
  });
  afterAll(async () => {
    const admin = kafka.admin();
    await admin.connect();
    const leftovers = (await admin.listTopics()).filter((topic) => topic.startsWith('outbox-it-'));
    if (leftovers.length > 0) await admin.deleteTopics({ topics: leftovers });
    await admin.disconnect();
  });

  async function openOutbox(): Promise<Outbox> {
    const outbox = await Outbox.open({ directory });
    cleanups.push(() => outbox.close());
    return outbox;
  }

  function kafkaTransport(): KafkaTransport {
    const transport = createKafkaTransport({ kafka, topicByKind: topics });
    cleanups.push(() => transport.disconnect());
    return transport;
  }

  async function appendRecords(
    outbox: Outbox,
    count: number,
  ): Promise<Map<string, { kind: string; value: string }>> {
    const expected = new Map<string, { kind: string; value: string }>();
    await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const key = `req-${randomUUID()}`;
        const kind = i % 4 === 0 ? 'audit' : 'usage';
        const value = `record ${i} of ${key}`;
        expected.set(key, { kind, value });
        await outbox.append({ key, topic: kind, payload: Buffer.from(value) });
      }),
    );
    return expected;
  }

  it('ships every record to its topic, keyed by request id', async () => {
    const outbox = await openOutbox();
    const expected = await appendRecords(outbox, 300);
    const shipper = new Shipper({ outbox, transport: kafkaTransport(), maxBatchRecords: 50 });
    cleanups.push(() => shipper.close());
    shipper.start();
    expect(await shipper.flush(30_000)).toBe(true);
    expect(shipper.lag()).toMatchObject({ pendingRecords: 0, shippedRecords: 300 });

    const received = await consumeUntil(kafka, Object.values(topics), new Set(expected.keys()));
    for (const message of received) {
      const want = expected.get(message.key);
      expect(want, `unexpected key ${message.key}`).toBeDefined();
      expect(message).toEqual({
        topic: topics[want!.kind as 'usage' | 'audit'],
        key: message.key,
        value: want!.value,
      });
    }
  });

  it('after a crash between send and ack, re-ships on restart: every record at least once', async () => {
    let outbox = await openOutbox();
    const expected = await appendRecords(outbox, 200);

    // Batches 1 and 2 go through; batch 3 reaches Kafka, then the process "dies" before the ack.
    const real = kafkaTransport();
    let batches = 0;
    let crashed!: () => void;
    const crashPoint = new Promise<void>((resolve) => (crashed = resolve));
    let releaseHungSend!: (error: Error) => void;
    const crashing: OutboxTransport = {
      async send(records: readonly OutboxRecord[]) {
        await real.send(records);
        batches += 1;
        if (batches < 3) return;
        crashed();
        await new Promise<void>((_, reject) => (releaseHungSend = reject));
      },
    };
    const first = new Shipper({ outbox, transport: crashing, maxBatchRecords: 30 });
    first.start();
    await crashPoint;
    const closing = first.close(); // stop before the hung send "fails": nothing after batch 2 is acked
    releaseHungSend(new Error('process killed'));
    await closing;
    expect(outbox.ackedSeq).toBe(60);
    await outbox.close();

    outbox = await openOutbox();
    expect(outbox.ackedSeq).toBe(60);
    expect(outbox.backlog().records).toBe(140);
    const second = new Shipper({ outbox, transport: real, maxBatchRecords: 30 });
    cleanups.push(() => second.close());
    second.start();
    expect(await second.flush(30_000)).toBe(true);

    const received = await consumeUntil(kafka, Object.values(topics), new Set(expected.keys()));
    const counts = new Map<string, number>();
    for (const message of received) counts.set(message.key, (counts.get(message.key) ?? 0) + 1);
    expect([...expected.keys()].filter((key) => !counts.has(key))).toEqual([]);
    expect([...counts.values()].filter((count) => count > 1).length).toBe(30); // batch 3, sent twice
  });
});
