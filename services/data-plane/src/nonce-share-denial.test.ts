import { join } from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSigner } from '@api-router/auth';
import { AuditEventKind, AuditEventSchema } from '@api-router/contracts';
import { Outbox } from '@api-router/outbox';
import { startInferenceHarness, type InferenceHarness } from './testing/inference-harness.test-support.js';
import { TEST_KEYS, testSigningSecret } from './testing/test-policy.test-support.js';

// The in-process nonce store gives one key at most what is left free (half of it, alone): a key over its
// share gets 429 rate_limited. Like every 429 that 429 has one durable audit event, written before the
// response, naming the key (its signature verified: the nonce is claimed after the HMAC matched).

let harness: InferenceHarness;
beforeAll(async () => {
  harness = await startInferenceHarness({
    signingSecretRefs: { [TEST_KEYS.signer]: ['env:SIGNER'] },
    environment: { SIGNER: testSigningSecret('share') },
    recordTransport: { send: () => Promise.reject(new Error('nothing is shipped in this test')) },
    config: { nonceStoreMaxEntries: 4 },
  });
});
afterAll(async () => {
  await harness.close();
});

async function auditEventsNow() {
  const outbox = await Outbox.open({ directory: join(harness.cacheDir, 'outbox') });
  try {
    const records = await outbox.read(0, { maxRecords: 10_000, maxBytes: 64 * 1024 * 1024 });
    return records
      .filter((record) => record.topic === 'audit')
      .map((record) => fromBinary(AuditEventSchema, record.payload));
  } finally {
    await outbox.close();
  }
}

describe('a key over its share of the in-process nonce store', () => {
  it('gets 429 rate_limited with Retry-After and one durable RATE_LIMITED event naming it', async () => {
    const sign = createSigner({
      keyId: TEST_KEYS.signer,
      secret: Buffer.from(testSigningSecret('share'), 'base64'),
    });
    const body = JSON.stringify({ model: 'demo-chat', messages: [{ role: 'user', content: 'hi' }] });
    const statuses: number[] = [];
    let refused: Response | undefined;
    for (let index = 0; index < 3; index += 1) {
      const url = `${harness.url}/v1/chat/completions`;
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-request-id': `share-${index}`,
          ...sign({ method: 'POST', url, body }),
        },
        body,
      });
      statuses.push(response.status);
      if (response.status === 429) refused = response;
      else await response.arrayBuffer();
    }
    // 4 entries: the key may hold what is left free, 1 < 4, 2 !< 2.
    expect(statuses).toEqual([200, 200, 429]);
    expect(refused?.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await refused?.json()).toMatchObject({ error: { code: 'rate_limited' } });
    const events = (await auditEventsNow()).filter((event) => event.requestId === 'share-2');
    expect(events).toMatchObject([
      {
        kind: AuditEventKind.RATE_LIMITED,
        keyPublicId: TEST_KEYS.signer,
        reasonCode: 'nonce_store_share',
        attributes: expect.objectContaining({ decision: 'denied', status: '429' }) as unknown,
      },
    ]);
    expect(events[0]!.tenantId).not.toBe('');
  });
});
