import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSigner } from '@api-router/auth';
import { startMockBackend, type MockBackend } from '@api-router/mock-backend';
import { createLogger } from '@api-router/observability';
import { freePort, testServices } from '@api-router/testing';
import { loadDataPlaneConfig, startDataPlane, type DataPlane } from '../src/index.js';
import { StaticPolicyTransport } from '../src/testing/inference-harness.test-support.js';
import { buildTestSnapshot, TEST_KEYS, testSigningSecret } from '../src/testing/test-policy.test-support.js';
import { metricValue } from './support/data-plane-harness.js';

// Two data-plane replicas sharing the real Redis: a signed request accepted by one is a replay for the
// other, and of two concurrent deliveries of one signed request exactly one is served.

const cleanups: (() => Promise<void>)[] = [];
let backend: MockBackend;
let replicas: DataPlane[];

async function startReplica(redisUrl: string, backendUrl: string): Promise<DataPlane> {
  const cacheDir = await mkdtemp(join(tmpdir(), 'dp-replay-'));
  cleanups.push(() => rm(cacheDir, { recursive: true, force: true }));
  const snapshot = buildTestSnapshot({
    backendUrls: { 'mock-a': backendUrl, 'mock-b': backendUrl },
    signingSecretRefs: { [TEST_KEYS.signer]: ['env:SIGNER_SECRET'] },
  });
  const dataPlane = await startDataPlane(
    {
      ...loadDataPlaneConfig({}),
      port: 0,
      cacheDir,
      drainDelayMs: 0,
      redisUrl,
      environment: new Map([
        ['MOCK_A_KEY', 'backend-token'],
        ['SIGNER_SECRET', testSigningSecret('replay')],
      ]),
    },
    {
      logger: createLogger({ service: 'data-plane', level: 'silent' }),
      transport: new StaticPolicyTransport(snapshot),
    },
  );
  cleanups.push(async () => {
    await dataPlane[Symbol.asyncDispose]();
  });
  for (let attempt = 0; (await fetch(`${dataPlane.url}/readyz`)).status !== 200; attempt += 1) {
    if (attempt > 200) throw new Error('replica not ready');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return dataPlane;
}

beforeAll(async () => {
  backend = await startMockBackend({ id: 'mock-a', logLevel: 'silent' });
  cleanups.push(() => backend.close());
  const redisUrl = testServices().REDIS_URL;
  replicas = [
    await startReplica(redisUrl, `${backend.url}/v1`),
    await startReplica(redisUrl, `${backend.url}/v1`),
  ];
});

afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const body = JSON.stringify({ model: 'demo-chat', messages: [{ role: 'user', content: 'hi' }] });
const sign = createSigner({
  keyId: TEST_KEYS.signer,
  secret: Buffer.from(testSigningSecret('replay'), 'base64'),
});

/** Signs for `path` (the same path on every replica) and returns the headers to send anywhere. */
function signedHeaders(): Record<string, string> {
  return sign({
    method: 'POST',
    url: 'http://router.example/v1/chat/completions',
    headers: { 'content-type': 'application/json' },
    body,
  });
}

function send(replica: DataPlane, headers: Record<string, string>): Promise<number> {
  return fetch(`${replica.url}/v1/chat/completions`, { method: 'POST', headers, body }).then(
    async (response) => {
      await response.arrayBuffer();
      return response.status;
    },
  );
}

describe('signature nonces shared through Redis', () => {
  it('refuses on one replica a signed request already served by the other', async () => {
    const [first, second] = replicas as [DataPlane, DataPlane];
    const headers = signedHeaders();
    expect(await send(first, headers)).toBe(200);
    expect(await send(second, headers)).toBe(401);
    expect(await send(first, headers)).toBe(401);
    const metrics = await (await fetch(`${second.url}/metrics`)).text();
    expect(metricValue(metrics, 'router_auth_failures_total', { reason: 'signature_replayed_nonce' })).toBe(
      1,
    );
  });

  it('serves exactly one of two concurrent deliveries of one signed request', async () => {
    const [first, second] = replicas as [DataPlane, DataPlane];
    for (let round = 0; round < 10; round += 1) {
      const headers = signedHeaders();
      const statuses = await Promise.all([send(first, headers), send(second, headers)]);
      expect(statuses.sort()).toEqual([200, 401]);
    }
  });

  it('fails closed (503) when Redis is unreachable', async () => {
    const unreachable = await startReplica(`redis://127.0.0.1:${await freePort()}`, `${backend.url}/v1`);
    const response = await fetch(`${unreachable.url}/v1/chat/completions`, {
      method: 'POST',
      headers: signedHeaders(),
      body,
    });
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: { code: 'dependency_unavailable' } });
  });
});
