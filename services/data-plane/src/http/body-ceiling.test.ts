import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_HTTP_SETTINGS } from '../config.js';
import { startInferenceHarness, type InferenceHarness } from '../testing/inference-harness.test-support.js';
import { TEST_KEYS, testApiKey } from '../testing/test-policy.test-support.js';

// The test policy allows 64 KiB bodies; the server's ceiling (DP_MAX_BODY_BYTES) is set below it here.
describe('a server body ceiling below the policy limit', () => {
  let harness: InferenceHarness;
  beforeAll(async () => {
    harness = await startInferenceHarness({
      config: { http: { ...DEFAULT_HTTP_SETTINGS, bodyLimitBytes: 4096 } },
    });
  });
  afterAll(async () => {
    await harness.close();
  });

  const post = (bytes: number): Promise<Response> =>
    fetch(`${harness.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${testApiKey(TEST_KEYS.demo)}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'demo-chat',
        messages: [{ role: 'user', content: 'x'.repeat(bytes) }],
        max_tokens: 1,
      }),
    });

  it('caps it, naming the limit that applies', async () => {
    const response = await post(5000);
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({
      error: { code: 'payload_too_large', message: 'The request body exceeds 4096 bytes.' },
    });
    expect((await post(100)).status).toBe(200);
  });
});
