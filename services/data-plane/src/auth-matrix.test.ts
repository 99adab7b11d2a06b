import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSigner } from '@api-router/auth';
import { waitFor } from '@api-router/testing';
import { metricValue } from '../test/support/data-plane-harness.js';
import { startInferenceHarness, type InferenceHarness } from './testing/inference-harness.test-support.js';
import {
  buildTestSnapshot,
  TEST_KEYS,
  testApiKey,
  testSigningSecret,
} from './testing/test-policy.test-support.js';

// Every way authentication can fail, over real HTTP: all are 401 with byte-identical bodies (same request
// id sent each time), and the reason shows only in router_auth_failures_total.

const signingSecretRefs = { [TEST_KEYS.signer]: ['env:SIGNER_OLD', 'env:SIGNER_NEW'] };
let harness: InferenceHarness;
beforeAll(async () => {
  harness = await startInferenceHarness({
    signingSecretRefs,
    environment: { SIGNER_OLD: testSigningSecret('old'), SIGNER_NEW: testSigningSecret('new') },
  });
});
afterAll(async () => {
  await harness.close();
});

const REQUEST_ID = 'auth-matrix-1';
const body = JSON.stringify({ model: 'demo-chat', messages: [{ role: 'user', content: 'hi' }] });

interface Attempt {
  path?: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

function send(attempt: Attempt): Promise<Response> {
  return fetch(`${harness.url}${attempt.path ?? '/v1/chat/completions'}`, {
    method: attempt.method ?? 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': REQUEST_ID, ...attempt.headers },
    body: attempt.body ?? body,
  });
}

function signedHeaders(
  options: {
    secret?: string;
    keyId?: string;
    url?: string;
    method?: string;
    body?: string;
    nowMs?: number;
  } = {},
): Record<string, string> {
  const sign = createSigner({
    keyId: options.keyId ?? TEST_KEYS.signer,
    secret: Buffer.from(testSigningSecret(options.secret ?? 'new'), 'base64'),
    clock: { now: () => options.nowMs ?? Date.now() },
  });
  return sign({
    method: options.method ?? 'POST',
    url: options.url ?? `${harness.url}/v1/chat/completions`,
    headers: { 'content-type': 'application/json' },
    body: options.body ?? body,
  });
}

const bearer = (publicId: string): Record<string, string> => ({
  authorization: `Bearer ${testApiKey(publicId)}`,
});

describe('authentication failures', () => {
  it('answers every failure with the same 401 body and counts each reason', async () => {
    const replayed = signedHeaders();
    expect((await send({ headers: replayed })).status).toBe(200);
    const cases: [string, Attempt][] = [
      ['missing_credentials', {}],
      ['malformed_key', { headers: { authorization: 'Bearer not-a-key' } }],
      ['malformed_key', { headers: { authorization: `Basic ${testApiKey(TEST_KEYS.demo)}` } }],
      ['unknown_key', { headers: bearer('rk_nobody') }],
      ['wrong_secret', { headers: { authorization: `Bearer ${TEST_KEYS.demo}.${'A'.repeat(43)}` } }],
      ['key_disabled', { headers: bearer(TEST_KEYS.disabled) }],
      ['key_expired', { headers: bearer(TEST_KEYS.expired) }],
      ['tenant_disabled', { headers: bearer(TEST_KEYS.frozenTenant) }],
      ['signature_bad_signature', { headers: signedHeaders({ secret: 'never-issued' }) }],
      ['signature_bad_digest', { headers: signedHeaders(), body: body.replace('hi', 'ho') }],
      ['signature_bad_signature', { headers: signedHeaders({ url: `${harness.url}/v1/inference` }) }],
      ['signature_bad_signature', { headers: signedHeaders(), path: '/v1/chat/completions?a=1' }],
      ['signature_bad_signature', { headers: signedHeaders({ method: 'PUT' }) }],
      ['signature_expired', { headers: signedHeaders({ nowMs: Date.now() - 400_000 }) }],
      ['signature_future', { headers: signedHeaders({ nowMs: Date.now() + 400_000 }) }],
      ['signature_replayed_nonce', { headers: replayed }],
      ['signature_unknown_key', { headers: signedHeaders({ keyId: TEST_KEYS.demo }) }],
      ['ambiguous_credentials', { headers: { ...signedHeaders(), ...bearer(TEST_KEYS.demo) } }],
    ];
    const bodies = new Set<string>();
    const expected = new Map<string, number>();
    for (const [reason, attempt] of cases) {
      const response = await send(attempt);
      expect(response.status, reason).toBe(401);
      bodies.add(await response.text());
      expected.set(reason, (expected.get(reason) ?? 0) + 1);
    }
    expect([...bodies]).toEqual([
      JSON.stringify({
        error: {
          message: 'Missing or invalid credentials.',
          type: 'authentication_error',
          param: null,
          code: 'unauthenticated',
        },
      }),
    ]);
    const metrics = await harness.metricsText();
    for (const [reason, count] of expected) {
      expect(metricValue(metrics, 'router_auth_failures_total', { reason }), reason).toBe(count);
    }
    // The router's own shape on /v1/inference: the same body for every reason too.
    const inferenceBodies = new Set<string>();
    for (const attempt of [
      {},
      { headers: bearer('rk_nobody') },
      { headers: signedHeaders({ secret: 'x' }) },
    ]) {
      inferenceBodies.add(await (await send({ ...attempt, path: '/v1/inference' })).text());
    }
    expect(inferenceBodies.size).toBe(1);
  });
});

describe('HMAC secret rotation', () => {
  it('accepts both active secrets, then only the one left after a policy drops the other', async () => {
    expect((await send({ headers: signedHeaders({ secret: 'old' }) })).status).toBe(200);
    expect((await send({ headers: signedHeaders({ secret: 'new' }) })).status).toBe(200);
    harness.transport.publish(
      buildTestSnapshot({
        version: 2n,
        signingSecretRefs: { [TEST_KEYS.signer]: ['env:SIGNER_NEW'] },
        backendUrls: {
          'mock-a': `${harness.backends['mock-a'].url}/v1`,
          'mock-b': `${harness.backends['mock-b'].url}/v1`,
        },
      }),
    );
    await waitFor('policy version 2', async () => {
      const response = await fetch(`${harness.url}/readyz`);
      const detail = (await response.json()) as { policy: { version: string } | null };
      return detail.policy?.version === '2' ? true : undefined;
    });
    expect((await send({ headers: signedHeaders({ secret: 'old' }) })).status).toBe(401);
    expect((await send({ headers: signedHeaders({ secret: 'new' }) })).status).toBe(200);
  });

  // Node keeps only the first of several Authorization lines: without a look at the raw lines a request
  // would be served with whichever key came first (a proxy that adds its own, a client that sends two).
  it('refuses two Authorization lines as ambiguous, whichever key comes first', async () => {
    const valid = `Bearer ${testApiKey(TEST_KEYS.demo)}`;
    const wrong = `Bearer ${TEST_KEYS.demo}.${'A'.repeat(43)}`;
    const before = metricValue(await harness.metricsText(), 'router_auth_failures_total', {
      reason: 'ambiguous_credentials',
    });
    for (const lines of [
      [valid, wrong],
      [wrong, valid],
      [valid, valid],
    ]) {
      const status = await new Promise<number>((resolve, reject) => {
        const sent = httpRequest(`${harness.url}/v1/chat/completions`, { method: 'POST' }, (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        });
        sent.setHeader('content-type', 'application/json');
        sent.setHeader('authorization', lines);
        sent.on('error', reject);
        sent.end(body);
      });
      expect(status).toBe(401);
    }
    const after = metricValue(await harness.metricsText(), 'router_auth_failures_total', {
      reason: 'ambiguous_credentials',
    });
    expect((after ?? 0) - (before ?? 0)).toBe(3);
  });
});
