import { fromBinary } from '@bufbuild/protobuf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditEventKind, AuditEventSchema, type AuditEvent } from '@api-router/contracts';
import { waitFor } from '@api-router/testing';
import { metricValue } from '../../test/support/data-plane-harness.js';
import {
  parseSse,
  startInferenceHarness,
  type InferenceHarness,
} from '../testing/inference-harness.test-support.js';
import { testApiKey } from '../testing/test-policy.test-support.js';
import { LIMIT_KEYS, buildLimitsSnapshot } from './limits-policy.test-support.js';

// A real data plane in-process (memory limit store) in front of in-process mock backends, with the
// limits policy: quotas, budgets, settlement and the queue seen over HTTP.

let harness: InferenceHarness;
beforeAll(async () => {
  harness = await startInferenceHarness({
    buildSnapshot: (urls) => buildLimitsSnapshot({ backendUrls: urls, queueWaitMs: 5000 }),
  });
});
afterAll(async () => {
  await harness.close();
});

// "hi": the router estimates 8 input tokens (1 + 4 + 3), the mock counts 1. With max tokens 10 the
// reservation is 8 + 2 × 10 = 28 micros and the real cost 1 + 2 × 10 = 21 micros.
const messages = [{ role: 'user', content: 'hi' }];
const RESERVED_MICROS = 28;
const REAL_MICROS = 21;

function post(
  keyId: string,
  path: '/v1/inference' | '/v1/chat/completions',
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${harness.url}${path}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${testApiKey(keyId)}`,
      'content-type': 'application/json',
      ...headers,
    },
    body: JSON.stringify(body),
  });
}

const inference = (keyId: string, extra: Record<string, unknown> = {}, headers?: Record<string, string>) =>
  post(keyId, '/v1/inference', { model: 'demo-chat', messages, max_output_tokens: 10, ...extra }, headers);
const chat = (keyId: string, extra: Record<string, unknown> = {}, headers?: Record<string, string>) =>
  post(keyId, '/v1/chat/completions', { model: 'demo-chat', messages, max_tokens: 10, ...extra }, headers);

async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
  return metricValue(await harness.metricsText(), name, labels) ?? 0;
}

/** Audit events the outbox shipped for a request id (polling: shipping is asynchronous). */
async function auditEventsOf(requestId: string, count: number): Promise<AuditEvent[]> {
  return waitFor(`${count} audit events of ${requestId}`, () => {
    const events = harness.shippedRecords
      .filter((record) => record.topic === 'audit' && record.key === requestId)
      .map((record) => fromBinary(AuditEventSchema, record.payload));
    return events.length >= count ? events : undefined;
  });
}

describe('request quotas', () => {
  it('answers past the request rate with 429, Retry-After and x-ratelimit headers', async () => {
    const first = await inference(LIMIT_KEYS.rate);
    expect(first.status).toBe(200);
    expect(first.headers.get('x-ratelimit-limit-requests')).toBe('60');
    expect(first.headers.get('x-ratelimit-remaining-requests')).toBe('1');
    expect(first.headers.get('x-ratelimit-reset-requests')).toMatch(/^\d+(\.\d+)?m?s$/);
    const second = await chat(LIMIT_KEYS.rate);
    expect(second.status).toBe(200);
    expect(second.headers.get('x-ratelimit-remaining-requests')).toBe('0');

    const denied = await inference(LIMIT_KEYS.rate, {}, { 'x-request-id': 'rate-denied-1' });
    expect(denied.status).toBe(429);
    expect(Number(denied.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(denied.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    const body = (await denied.json()) as { error: { code: string; details: Record<string, unknown> } };
    expect(body.error).toMatchObject({
      code: 'rate_limited',
      details: { limit: `key:${LIMIT_KEYS.rate}`, limit_kind: 'requests', remaining: 0 },
    });

    const openai = await chat(LIMIT_KEYS.rate);
    expect(openai.status).toBe(429);
    expect(openai.headers.get('retry-after')).not.toBeNull();
    expect(((await openai.json()) as { error: { type: string } }).error.type).toBe('rate_limit_error');

    const [event] = await auditEventsOf('rate-denied-1', 1);
    expect(event).toMatchObject({
      kind: AuditEventKind.RATE_LIMITED,
      keyPublicId: LIMIT_KEYS.rate,
      tenantId: 'acme',
      reasonCode: `key:${LIMIT_KEYS.rate}`,
    });
    expect(event?.attributes).toMatchObject({ status: '429', limit: '60', remaining: '0' });
  });

  it('charges a token rate the estimate and refuses a request larger than the bucket for good', async () => {
    const response = await chat(LIMIT_KEYS.tokens, { max_tokens: 200 });
    expect(response.status).toBe(429);
    expect(response.headers.get('x-ratelimit-limit-tokens')).toBe('600');
    const fits = await chat(LIMIT_KEYS.tokens, { max_tokens: 20 });
    expect(fits.status).toBe(200);
    expect(Number(fits.headers.get('x-ratelimit-remaining-tokens'))).toBe(100 - 8 - 20);
    // Streams carry them in their response headers.
    const stream = await inference(LIMIT_KEYS.tokens, { stream: true, max_output_tokens: 5 });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(stream.headers.get('x-ratelimit-limit-tokens')).toBe('600');
    expect(stream.headers.get('x-ratelimit-reset-tokens')).toMatch(/^\d+(\.\d+)?m?s$/);
    await stream.text();
  });

  it('counts the tool definitions a backend renders into the prompt in the estimate', async () => {
    expect((await chat(LIMIT_KEYS.tokens, { max_tokens: 20 })).status).toBe(200);
    // ~600 bytes of tool schema: ~200 more estimated tokens, more than the whole bucket (100).
    const tools = [
      {
        type: 'function',
        function: { name: 'lookup', description: 'x'.repeat(600), parameters: { type: 'object' } },
      },
    ];
    const response = await chat(LIMIT_KEYS.tokens, { max_tokens: 20, tools });
    expect(response.status).toBe(429);
    expect(response.headers.get('x-ratelimit-limit-tokens')).toBe('600');
  });
});

describe('budgets', () => {
  it('settles JSON and streamed answers with the real usage and answers 402 once the budget is spent', async () => {
    // Budget 100 micros: 4 requests settle at 21 each (84); the 5th needs 28 > 16 left.
    expect((await inference(LIMIT_KEYS.budget)).status).toBe(200);
    expect((await chat(LIMIT_KEYS.budget)).status).toBe(200);
    const stream = await inference(LIMIT_KEYS.budget, { stream: true });
    expect(stream.status).toBe(200);
    expect(parseSse(await stream.text()).data.at(-1)).toBe('[DONE]');
    const chatStream = await chat(LIMIT_KEYS.budget, { stream: true });
    expect(parseSse(await chatStream.text()).data.at(-1)).toBe('[DONE]');
    await waitFor('four settlements', async () =>
      (await metric('router_reservations_open')) === 0 ? true : undefined,
    );

    const denied = await inference(LIMIT_KEYS.budget, {}, { 'x-request-id': 'budget-denied-1' });
    expect(denied.status).toBe(402);
    expect(denied.headers.get('retry-after')).toBeNull();
    const body = (await denied.json()) as { error: { code: string; details: Record<string, unknown> } };
    expect(body.error).toMatchObject({
      code: 'budget_exhausted',
      details: {
        budget: `key:${LIMIT_KEYS.budget}:total`,
        limit_usd: '0.0001',
        limit_micros: 100,
        remaining_micros: 100 - 4 * REAL_MICROS,
        resets_at: null,
      },
    });
    const openai = await chat(LIMIT_KEYS.budget);
    expect(openai.status).toBe(402);
    expect(((await openai.json()) as { error: { type: string } }).error.type).toBe('insufficient_quota');
    const [event] = await auditEventsOf('budget-denied-1', 1);
    expect(event).toMatchObject({
      kind: AuditEventKind.BUDGET_DENIED,
      reasonCode: `key:${LIMIT_KEYS.budget}:total`,
    });
    expect(await metric('router_settlement_drift_micros_sum')).toBeGreaterThanOrEqual(
      4 * (RESERVED_MICROS - REAL_MICROS),
    );
  });

  it('releases the reservation of a request the backend failed', async () => {
    const released = await metric('router_settlements_total', { operation: 'release', outcome: 'released' });
    for (let index = 0; index < 5; index += 1) {
      const failed = await inference(LIMIT_KEYS.tenantBudget, {}, { 'x-mock-status': '500' });
      expect(failed.status).toBe(502);
    }
    await waitFor('five releases', async () =>
      (await metric('router_settlements_total', { operation: 'release', outcome: 'released' })) ===
      released + 5
        ? true
        : undefined,
    );
    expect(await metric('router_reservations_open')).toBe(0);
  });
});

describe('the fair queue', () => {
  it('lets a request wait for a concurrency slot and reports the wait as queue time', async () => {
    const slow = inference(LIMIT_KEYS.conc, {}, { 'x-mock-latency-ms': '300' });
    await waitFor('the slow request to hold the slot', async () =>
      (await metric('router_reservations_open')) === 1 ? true : undefined,
    );
    const queued = await chat(LIMIT_KEYS.conc, {}, { 'x-request-id': 'queued-1' });
    expect(queued.status).toBe(200);
    expect(Number(queued.headers.get('x-router-queue-ms'))).toBeGreaterThan(0);
    expect((await slow).status).toBe(200);
    const events = await auditEventsOf('queued-1', 2);
    expect(events.map((event) => event.kind)).toEqual([AuditEventKind.QUEUED, AuditEventKind.QUEUE_ADMITTED]);
    expect(
      await metric('router_limit_decisions_total', { kind: 'concurrency', outcome: 'queue_admitted' }),
    ).toBe(1);
  });

  it('refuses at once without a queue policy', async () => {
    const slow = inference(LIMIT_KEYS.concNoQueue, {}, { 'x-mock-latency-ms': '300' });
    await waitFor('the slow request to hold the slot', async () =>
      (await metric('router_reservations_open')) === 1 ? true : undefined,
    );
    const refused = await inference(LIMIT_KEYS.concNoQueue);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).not.toBeNull();
    expect((await slow).status).toBe(200);
  });
});

describe('readiness', () => {
  it('shows the in-process limit store, not degraded', async () => {
    const detail = (await (await fetch(`${harness.url}/readyz`)).json()) as { limits: unknown };
    expect(detail.limits).toEqual({ store: 'memory', degraded: false, since: null });
    expect(await metric('router_limits_degraded')).toBe(0);
  });
});
