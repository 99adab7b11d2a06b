import { randomUUID } from 'node:crypto';
import { fromBinary } from '@bufbuild/protobuf';
import { Kafka, logLevel, type Consumer, type KafkaMessage } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditEventKind, AuditEventSchema, UsageRecordSchema } from '@api-router/contracts';
import { testServices } from '@api-router/testing';
import { loadDataPlaneConfig } from '../src/index.js';
import {
  startInferenceHarness,
  type InferenceHarness,
} from '../src/testing/inference-harness.test-support.js';
import { TEST_KEYS, testApiKey } from '../src/testing/test-policy.test-support.js';

// The Kafka path of the record outbox (DP_KAFKA_BROKERS): a served request's usage record and a denial's
// audit event arrive on their topics, keyed by request id, against the real broker.

const RUN = randomUUID().slice(0, 8);
const topics = { usage: `dp-it-usage-${RUN}`, audit: `dp-it-audit-${RUN}` };
let kafka: Kafka;
let harness: InferenceHarness;

beforeAll(async () => {
  const brokers = testServices().KAFKA_BROKERS.split(',');
  kafka = new Kafka({ clientId: 'dp-kafka-it', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: Object.values(topics).map((topic) => ({ topic, numPartitions: 2, replicationFactor: 1 })),
    });
  } finally {
    await admin.disconnect();
  }
  const env = loadDataPlaneConfig({
    DP_KAFKA_BROKERS: brokers.join(','),
    DP_KAFKA_USAGE_TOPIC: topics.usage,
    DP_KAFKA_AUDIT_TOPIC: topics.audit,
  });
  harness = await startInferenceHarness({ recordTransport: 'configured', config: { records: env.records } });
});

afterAll(async () => {
  await harness.close();
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.deleteTopics({ topics: Object.values(topics) });
  } finally {
    await admin.disconnect();
  }
});

/** Reads `topic` from the beginning until a message with `key` arrives. */
async function consumeKey(topic: string, key: string, timeoutMs = 45_000): Promise<KafkaMessage> {
  const consumer: Consumer = kafka.consumer({ groupId: `dp-kafka-it-${randomUUID()}` });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    return await new Promise<KafkaMessage>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no message keyed ${key} on ${topic}`)), timeoutMs);
      consumer
        .run({
          eachMessage: ({ message }) => {
            if (message.key?.toString() === key) {
              clearTimeout(timer);
              resolve(message);
            }
            return Promise.resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
}

const body = JSON.stringify({ model: 'demo-chat', messages: [{ role: 'user', content: 'hi' }] });

describe('records shipped to Kafka', () => {
  it("a served request's usage record arrives on the usage topic, keyed by request id", async () => {
    const requestId = `kafka-usage-${RUN}`;
    const response = await fetch(`${harness.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${testApiKey(TEST_KEYS.demo)}`,
        'x-request-id': requestId,
      },
      body,
    });
    expect(response.status).toBe(200);
    const message = await consumeKey(topics.usage, requestId);
    const usage = fromBinary(UsageRecordSchema, message.value!);
    expect(usage).toMatchObject({
      requestId,
      statusCode: 200,
      backendId: 'mock-a',
      keyPublicId: 'rk_demo01',
    });
    expect(usage.outputTokens).toBeGreaterThan(0n);
    expect(message.headers?.['outbox-seq']).toBeDefined();
  });

  it("a denial's audit event arrives on the audit topic, keyed by request id", async () => {
    const requestId = `kafka-audit-${RUN}`;
    const response = await fetch(`${harness.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': requestId },
      body,
    });
    expect(response.status).toBe(401);
    const event = fromBinary(AuditEventSchema, (await consumeKey(topics.audit, requestId)).value!);
    expect(event).toMatchObject({
      requestId,
      kind: AuditEventKind.AUTH_DENIED,
      reasonCode: 'missing_credentials',
    });
  });

  it('reports the Kafka transport in the readiness detail', async () => {
    const detail = (await (await fetch(`${harness.url}/readyz`)).json()) as { outbox: unknown };
    expect(detail.outbox).toMatchObject({ transport: 'kafka' });
  });
});
