import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSigner } from '@api-router/auth';
import {
  MOCK_A_TOKEN,
  startInferenceHarness,
  type InferenceHarness,
} from './testing/inference-harness.test-support.js';
import { TEST_KEYS, testApiKey, testSigningSecret } from './testing/test-policy.test-support.js';

// A key's plaintext must never leave the request that carried it: not in logs (at debug level), not in
// metrics, not in the snapshot cache files, not in the record outbox (denials are audited there). The same holds for HMAC secrets and backend credentials.

let harness: InferenceHarness;
beforeAll(async () => {
  harness = await startInferenceHarness({
    signingSecretRefs: { [TEST_KEYS.signer]: ['env:SIGNER_SECRET'] },
    environment: { SIGNER_SECRET: testSigningSecret('plaintext') },
  });
});
afterAll(async () => {
  await harness.close();
});

/** Every file under the cache dir: snapshot cache files and the record outbox (audit events, usage). */
async function cacheFilesText(dir: string): Promise<string> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
  expect(files.length).toBeGreaterThan(0);
  expect(files.some((file) => file.includes('outbox'))).toBe(true);
  // A file can go between the listing and its read: the outbox writes its ack cursor to a temp file and
  // renames it over the cursor (whose new content is read then). Nothing is lost by skipping it.
  const contents = await Promise.all(files.map((file) => readFile(file).catch(ignoreVanished)));
  // Binary protobuf: search the raw bytes as latin1 so that any embedded ASCII string is found.
  return contents.map((content) => content.toString('latin1')).join('\n');
}

function ignoreVanished(error: unknown): Buffer {
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') return Buffer.alloc(0);
  throw error;
}

describe('secrets in plaintext', () => {
  it('appear in no log line, metric or cache file after successful and failed requests', async () => {
    const key = testApiKey(TEST_KEYS.demo);
    const secretPart = key.slice(key.indexOf('.') + 1);
    const body = JSON.stringify({ model: 'demo-chat', messages: [{ role: 'user', content: 'hi' }] });
    const send = (headers: Record<string, string>, path = '/v1/chat/completions') =>
      fetch(`${harness.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
      });
    expect((await send({ authorization: `Bearer ${key}` })).status).toBe(200);
    expect((await send({ authorization: `Bearer ${key}` }, '/v1/inference')).status).toBe(200);
    expect((await send({ authorization: `Bearer ${key}`, 'x-mock-status': '500' })).status).toBe(502);
    expect((await send({ authorization: `Bearer ${key}x` })).status).toBe(401); // wrong secret
    expect((await send({ authorization: `Bearer rk_nobody.${secretPart}` })).status).toBe(401); // unknown id
    const sign = createSigner({
      keyId: TEST_KEYS.signer,
      secret: Buffer.from(testSigningSecret('plaintext'), 'base64'),
    });
    const url = `${harness.url}/v1/chat/completions`;
    const signed = sign({ method: 'POST', url, headers: { 'content-type': 'application/json' }, body });
    expect((await fetch(url, { method: 'POST', headers: signed, body })).status).toBe(200);
    expect((await fetch(url, { method: 'POST', headers: signed, body })).status).toBe(401); // replay

    const places = {
      logs: harness.logs(),
      metrics: await harness.metricsText(),
      cache: await cacheFilesText(harness.cacheDir),
    };
    expect(places.logs).toContain('rk_demo01'); // the public id may (and does) appear
    const secrets = {
      'API key secret': secretPart,
      'HMAC secret': testSigningSecret('plaintext'),
      'backend credential': MOCK_A_TOKEN,
    };
    for (const [place, text] of Object.entries(places)) {
      for (const [name, secret] of Object.entries(secrets)) {
        expect(text.includes(secret), `${name} in ${place}`).toBe(false);
      }
    }
  });
});
