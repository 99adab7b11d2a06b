import { join } from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSigner } from '@api-router/auth';
import {
  AuditEventKind,
  AuditEventSchema,
  UsageRecordSchema,
  type AuditEvent,
  type UsageRecord,
} from '@api-router/contracts';
import { Outbox } from '@api-router/outbox';
import {
  parseSse,
  startInferenceHarness,
  type InferenceHarness,
} from './testing/inference-harness.test-support.js';
import { TEST_KEYS, testApiKey, testSigningSecret } from './testing/test-policy.test-support.js';

// Denials and usage reach the durable outbox BEFORE the response: each assertion reads the outbox files the
// moment the response (for streams: its last byte) arrived. The record transport always fails, so nothing
// is ever acked and everything appended stays readable.

// Model-wide price 1/2 USD per million tokens, mock-a's own 3/4: usage must be priced at the backend's.
const PRICES = `  maxBodyBytes: 65536
prices:
  - { model: demo-chat, inputUsdPerMillionTokens: '1.00', outputUsdPerMillionTokens: '2.00' }
  - { model: demo-chat, backend: mock-a, inputUsdPerMillionTokens: '3.00', outputUsdPerMillionTokens: '4.00' }`;

let harness: InferenceHarness;
beforeAll(async () => {
  harness = await startInferenceHarness({
    settingsYaml: PRICES,
    signingSecretRefs: { [TEST_KEYS.signer]: ['env:SIGNER'] },
    environment: { SIGNER: testSigningSecret('records') },
    recordTransport: { send: () => Promise.reject(new Error('nowhere to ship in this test')) },
    config: {
      records: {
        outboxDir: undefined,
        outboxMaxBytes: 1024 ** 3,
        flushTimeoutMs: 10,
        outboxSync: 'interval',
        outboxSyncIntervalMs: 10,
        kafka: undefined,
      },
    },
  });
});
afterAll(async () => {
  await harness.close();
});

interface OutboxContent {
  audit: AuditEvent[];
  usage: UsageRecord[];
  raw: string;
}

/** Everything in the data plane's outbox right now (the data plane is idle between requests). */
async function outboxNow(): Promise<OutboxContent> {
  const outbox = await Outbox.open({ directory: join(harness.cacheDir, 'outbox') });
  try {
    const records = await outbox.read(0, { maxRecords: 10_000, maxBytes: 64 * 1024 * 1024 });
    return {
      audit: records
        .filter((record) => record.topic === 'audit')
        .map((record) => fromBinary(AuditEventSchema, record.payload)),
      usage: records
        .filter((record) => record.topic === 'usage')
        .map((record) => fromBinary(UsageRecordSchema, record.payload)),
      raw: records.map((record) => Buffer.from(record.payload).toString('latin1')).join('\n'),
    };
  } finally {
    await outbox.close();
  }
}

const messages = [{ role: 'user', content: 'hi' }];
let sequence = 0;

async function post(
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ requestId: string; response: Response; text: string }> {
  sequence += 1;
  const requestId = `records-${sequence}`;
  const text = JSON.stringify(body);
  const all: Record<string, string> = {
    'content-type': 'application/json',
    'x-request-id': requestId,
    authorization: `Bearer ${testApiKey(TEST_KEYS.demo)}`,
    ...headers,
  };
  const response = await fetch(`${harness.url}${path}`, {
    method: 'POST',
    // An empty value leaves the header out.
    headers: Object.fromEntries(Object.entries(all).filter(([, value]) => value !== '')),
    body: text,
  });
  return { requestId, response, text: await response.text() };
}

const forRequest = <T extends { requestId: string }>(items: T[], requestId: string): T[] =>
  items.filter((item) => item.requestId === requestId);

describe('denials are audited before the response', () => {
  const wrongSecret = `${TEST_KEYS.demo}.${'x'.repeat(43)}`;
  it.each([
    ['no credentials', { authorization: '' }, 'missing_credentials', '', ''],
    ['a malformed key', { authorization: 'Bearer not-a-key' }, 'malformed_key', '', ''],
    [
      'an unknown key',
      { authorization: `Bearer ${testApiKey('rk_nobody')}` },
      'unknown_key',
      'rk_nobody',
      '',
    ],
    ['a wrong secret', { authorization: `Bearer ${wrongSecret}` }, 'wrong_secret', 'rk_demo01', 'acme'],
    [
      'a disabled key',
      { authorization: `Bearer ${testApiKey(TEST_KEYS.disabled)}` },
      'key_disabled',
      'rk_disabled',
      'acme',
    ],
  ])('401 for %s: one AUTH_DENIED event, never the secret', async (_name, headers, reason, keyId, tenant) => {
    const { requestId, response } = await post(
      '/v1/chat/completions',
      { model: 'demo-chat', messages },
      headers,
    );
    expect(response.status).toBe(401);
    const outbox = await outboxNow();
    const events = forRequest(outbox.audit, requestId);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      kind: AuditEventKind.AUTH_DENIED,
      reasonCode: reason,
      keyPublicId: keyId,
      tenantId: tenant,
      attributes: { status: '401', route: '/v1/chat/completions', method: 'POST' },
    });
    expect(forRequest(outbox.usage, requestId)).toEqual([]);
    const secret = (headers.authorization ?? '').split('.')[1];
    if (secret !== undefined) expect(outbox.raw).not.toContain(secret);
  });

  // The signature verifier does not report the keyid of a signature it refused: the event has the reason only.
  it('401 for a bad signature: one AUTH_DENIED event with the signature reason', async () => {
    const body = JSON.stringify({ model: 'demo-chat', messages });
    const sign = createSigner({
      keyId: TEST_KEYS.signer,
      secret: Buffer.from(testSigningSecret('someone else'), 'base64'),
      clock: { now: () => Date.now() },
    });
    const signed = sign({ method: 'POST', url: `${harness.url}/v1/inference`, body });
    const response = await fetch(`${harness.url}/v1/inference`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'records-signed', ...signed },
      body,
    });
    expect(response.status).toBe(401);
    const events = forRequest((await outboxNow()).audit, 'records-signed');
    expect(events).toMatchObject([
      { kind: AuditEventKind.AUTH_DENIED, reasonCode: 'signature_bad_signature' },
    ]);
  });

  it('403 model_not_allowed and 404 model_not_found: one MODEL_DENIED event each', async () => {
    const limited = { authorization: `Bearer ${testApiKey(TEST_KEYS.limited)}` };
    const forbidden = await post('/v1/inference', { model: 'demo-chat', messages }, limited);
    expect(forbidden.response.status).toBe(403);
    const outbox = await outboxNow();
    expect(forRequest(outbox.audit, forbidden.requestId)).toMatchObject([
      {
        kind: AuditEventKind.MODEL_DENIED,
        reasonCode: 'model_not_allowed',
        keyPublicId: 'rk_limited',
        tenantId: 'acme',
        attributes: { status: '403', model: 'demo-chat' },
      },
    ]);
    const missing = await post('/v1/chat/completions', { model: 'no-such-model', messages });
    expect(missing.response.status).toBe(404);
    const after = await outboxNow();
    expect(forRequest(after.audit, missing.requestId)).toMatchObject([
      { kind: AuditEventKind.MODEL_DENIED, reasonCode: 'model_not_found', attributes: { status: '404' } },
    ]);
    expect(forRequest(after.usage, forbidden.requestId)).toEqual([]);
    expect(forRequest(after.usage, missing.requestId)).toEqual([]);
  });
});

describe('usage is recorded before the response completes', () => {
  it('JSON: one record with tokens, the serving backend price and timings', async () => {
    const { requestId, response, text } = await post('/v1/chat/completions', {
      model: 'demo-chat',
      messages,
      max_tokens: 3,
    });
    expect(response.status).toBe(200);
    const usage = (JSON.parse(text) as { usage: { prompt_tokens: number; completion_tokens: number } }).usage;
    const records = forRequest((await outboxNow()).usage, requestId);
    expect(records).toHaveLength(1);
    const [record] = records;
    expect(record).toMatchObject({
      tenantId: 'acme',
      keyPublicId: 'rk_demo01',
      model: 'demo-chat',
      routeId: 'demo-chat',
      backendId: 'mock-a',
      statusCode: 200,
      inputTokens: BigInt(usage.prompt_tokens),
      outputTokens: BigInt(usage.completion_tokens),
      costMicros: BigInt(3 * usage.prompt_tokens + 4 * usage.completion_tokens),
      attempts: 1,
      streamed: false,
      truncated: false,
      policyVersion: 1n,
    });
    expect(record!.totalMs).toBeGreaterThanOrEqual(record!.upstreamMs);
    expect(Math.abs(Number(record!.startedAt!.seconds) * 1000 - Date.now())).toBeLessThan(60_000);
  });

  it('stream: the record is in the outbox when [DONE] arrives', async () => {
    const { requestId, response, text } = await post('/v1/inference', {
      model: 'demo-chat',
      messages,
      stream: true,
      max_output_tokens: 3,
    });
    expect(response.status).toBe(200);
    expect(parseSse(text).data.at(-1)).toBe('[DONE]');
    const records = forRequest((await outboxNow()).usage, requestId);
    expect(records).toMatchObject([{ streamed: true, truncated: false, statusCode: 200, outputTokens: 3n }]);
    expect(records[0]!.timeToFirstTokenMs).toBeGreaterThan(0);
  });

  it('an upstream failure after admission: one record with the error status', async () => {
    const { requestId, response } = await post(
      '/v1/inference',
      { model: 'demo-chat', messages },
      { 'x-mock-status': '500' },
    );
    expect(response.status).toBe(502);
    expect(forRequest((await outboxNow()).usage, requestId)).toMatchObject([
      { statusCode: 502, backendId: 'mock-a', attempts: 1, inputTokens: 0n, costMicros: 0n },
    ]);
  });

  it('a reused x-request-id: each request has its own record, told apart by record id', async () => {
    const reused = { 'x-request-id': 'records-reused-id' };
    const body = { model: 'demo-chat', messages, max_tokens: 3 };
    const first = await post('/v1/chat/completions', body, reused);
    const second = await post('/v1/chat/completions', body, reused);
    expect([first.response.status, second.response.status]).toEqual([200, 200]);
    const records = forRequest((await outboxNow()).usage, 'records-reused-id');
    expect(records).toHaveLength(2);
    const uuidV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    expect(records[0]!.recordId).toMatch(uuidV7);
    expect(records[1]!.recordId).toMatch(uuidV7);
    expect(records[0]!.recordId).not.toBe(records[1]!.recordId);
  });

  it('shows the undelivered backlog in the readiness detail', async () => {
    const detail = (await (await fetch(`${harness.url}/readyz`)).json()) as { outbox: unknown };
    expect(detail.outbox).toMatchObject({ transport: 'custom' });
    expect((detail.outbox as { pending: number }).pending).toBeGreaterThan(0);
  });
});

describe('a full outbox', () => {
  let full: InferenceHarness;
  beforeAll(async () => {
    full = await startInferenceHarness({
      config: {
        records: {
          outboxDir: undefined,
          outboxMaxBytes: 16,
          flushTimeoutMs: 10,
          outboxSync: 'interval',
          outboxSyncIntervalMs: 10,
          kafka: undefined,
        },
      },
    });
  });
  afterAll(async () => {
    await full.close();
  });

  it('turns denials and served requests into 503 dependency_unavailable: nothing is answered unaccounted', async () => {
    const send = (authorization: string) =>
      fetch(`${full.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization },
        body: JSON.stringify({ model: 'demo-chat', messages }),
      });
    const denied = await send('Bearer nope');
    const served = await send(`Bearer ${testApiKey(TEST_KEYS.demo)}`);
    for (const response of [denied, served]) {
      expect(response.status).toBe(503);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe(
        'dependency_unavailable',
      );
    }
  });

  it('ends a stream whose usage cannot be recorded with an error event, never [DONE]', async () => {
    const response = await fetch(`${full.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${testApiKey(TEST_KEYS.demo)}`,
      },
      body: JSON.stringify({ model: 'demo-chat', messages, stream: true }),
    });
    expect(response.status).toBe(200);
    const { data } = parseSse(await response.text());
    expect(data).not.toContain('[DONE]');
    expect(JSON.parse(data.at(-1)!)).toMatchObject({ error: { code: 'dependency_unavailable' } });
  });
});
