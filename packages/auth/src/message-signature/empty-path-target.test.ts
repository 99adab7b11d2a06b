// Found by the fast-check property in signature-properties.test.ts (seed -1370171827): an origin-form
// target "?" (empty path, empty query) signed the same as "/". Pinned here so it cannot come back.
import { expect, it } from 'vitest';
import { signRequest, verifyRequest, createMemoryNonceStore } from '../index.js';
it('"?" does not verify a signature over "/"', async () => {
  const secret = new Uint8Array(16);
  const request = { method: 'A', url: '/', headers: { 'content-type': '!!' }, body: new Uint8Array() };
  const headers = signRequest(request, {
    keyId: 'k1',
    secret,
    created: 1749999700,
    nonce: 'a',
    components: ['@method', '@path', '@query', 'content-digest', 'content-type'],
  });
  const signed = { ...request, headers: { ...request.headers, ...headers } };
  const opts = () => ({
    resolveSecrets: () => [secret],
    nowMs: 1749999700_000,
    nonceStore: createMemoryNonceStore({ clock: { now: () => 1749999700_000 }, maxEntries: 10 }),
  });
  expect((await verifyRequest(signed, opts())).ok).toBe(true);
  expect((await verifyRequest({ ...signed, url: '?' }, opts())).ok).toBe(false);
});
