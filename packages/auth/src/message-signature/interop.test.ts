import fc from 'fast-check';
import {
  createSigner as createLibrarySigner,
  createVerifier as createLibraryVerifier,
  httpbis,
} from 'http-message-signatures';
import { describe, expect, it } from 'vitest';
import { computeContentDigest } from '../content-digest.js';
import { createMemoryNonceStore } from '../nonce-store/memory-nonce-store.js';
import { signRequest } from './sign-request.js';
import { verifyRequest } from './verify-request.js';

// Interoperability with an independent RFC 9421 implementation (the `http-message-signatures` npm
// package): what it signs we verify, and what we sign it verifies.

const SECRET = Buffer.from('c2hhcmVkIHNlY3JldCBmb3IgaW50ZXJvcCB0ZXN0cyEhIQ', 'base64url');
const CREATED = 1_700_000_000;
const COMPONENTS = [
  '@method',
  '@path',
  '@query',
  '@authority',
  '@target-uri',
  'content-digest',
  'content-type',
];

interface Exchange {
  readonly method: string;
  readonly path: string;
  readonly search: string;
  readonly body: Buffer;
}

const EXAMPLE: Exchange = {
  method: 'POST',
  path: '/v1/chat/completions',
  search: '?stream=true&tenant=acme',
  body: Buffer.from('{"model":"demo","messages":[{"role":"user","content":"hi"}]}'),
};

function ourVerifyOptions(nowSeconds = CREATED) {
  return {
    resolveSecrets: (keyId: string) => (keyId === 'partner-1' ? [SECRET] : []),
    nowMs: nowSeconds * 1000,
    nonceStore: createMemoryNonceStore({ clock: { now: () => nowSeconds * 1000 }, maxEntries: 100 }),
    requiredComponents: COMPONENTS,
  };
}

async function signWithLibrary(exchange: Exchange, nonce: string) {
  return httpbis.signMessage(
    {
      key: createLibrarySigner(SECRET, 'hmac-sha256', 'partner-1'),
      name: 'sig1',
      fields: COMPONENTS,
      params: ['created', 'keyid', 'nonce', 'alg'],
      paramValues: { created: new Date(CREATED * 1000), nonce },
    },
    {
      method: exchange.method,
      url: `https://router.example${exchange.path}${exchange.search}`,
      headers: { 'content-type': 'application/json', 'content-digest': computeContentDigest(exchange.body) },
    },
  );
}

async function verifyWithLibrary(
  exchange: Exchange,
  headers: Record<string, string>,
): Promise<boolean | null> {
  return httpbis.verifyMessage(
    {
      keyLookup: (parameters) =>
        Promise.resolve(
          parameters.keyid === 'partner-1'
            ? { id: 'partner-1', algs: ['hmac-sha256'], verify: createLibraryVerifier(SECRET, 'hmac-sha256') }
            : null,
        ),
      // Fixed bounds instead of the library's default of Date.now(): the test must not depend on the clock.
      notAfter: CREATED + 10,
      requiredParams: ['created', 'keyid', 'nonce'],
      requiredFields: COMPONENTS,
    },
    { method: exchange.method, url: `https://router.example${exchange.path}${exchange.search}`, headers },
  );
}

function signWithUs(exchange: Exchange, nonce: string): Record<string, string> {
  const headers = { host: 'router.example', 'content-type': 'application/json' };
  const signature = signRequest(
    { method: exchange.method, url: `${exchange.path}${exchange.search}`, headers, body: exchange.body },
    { keyId: 'partner-1', secret: SECRET, created: CREATED, nonce, components: COMPONENTS },
  );
  return { ...headers, ...signature };
}

describe('interoperability with http-message-signatures', () => {
  it('verifies a request the library signed (origin-form target, Host header, alg parameter)', async () => {
    const signed = await signWithLibrary(EXAMPLE, 'lib-nonce-1');
    const result = await verifyRequest(
      {
        method: EXAMPLE.method,
        url: `${EXAMPLE.path}${EXAMPLE.search}`,
        headers: { ...signed.headers, host: 'router.example' },
        body: EXAMPLE.body,
      },
      ourVerifyOptions(),
    );
    expect(result).toEqual({ ok: true, keyId: 'partner-1', label: 'sig1' });
  });

  it('refuses a library-signed request whose body was swapped', async () => {
    const signed = await signWithLibrary(EXAMPLE, 'lib-nonce-2');
    const result = await verifyRequest(
      {
        method: EXAMPLE.method,
        url: `${EXAMPLE.path}${EXAMPLE.search}`,
        headers: { ...signed.headers, host: 'router.example' },
        body: Buffer.from('{"model":"expensive"}'),
      },
      ourVerifyOptions(),
    );
    expect(result).toEqual({ ok: false, reason: 'bad_digest', keyId: 'partner-1' });
  });

  it('is verified by the library, which also rejects a tampered query', async () => {
    const headers = signWithUs(EXAMPLE, 'our-nonce-1');
    await expect(verifyWithLibrary(EXAMPLE, headers)).resolves.toBe(true);
    await expect(
      verifyWithLibrary({ ...EXAMPLE, search: '?stream=false&tenant=acme' }, headers),
    ).resolves.toBe(false);
  });

  it('agrees in both directions for generated requests (property)', async () => {
    // Dot segments are excluded: the library resolves them (WHATWG URL), as fetch does before sending,
    // while we sign the target exactly as received.
    const segment = fc
      .stringMatching(/^[A-Za-z0-9._~-]{1,12}$/)
      .filter((text) => text !== '.' && text !== '..');
    const queryPart = fc.stringMatching(/^[A-Za-z0-9._~-]{1,8}=[A-Za-z0-9._~-]{0,8}$/);
    const exchange = fc.record({
      method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'),
      path: fc.array(segment, { minLength: 1, maxLength: 4 }).map((segments) => `/${segments.join('/')}`),
      search: fc
        .array(queryPart, { maxLength: 3 })
        .map((parts) => (parts.length === 0 ? '' : `?${parts.join('&')}`)),
      body: fc.uint8Array({ maxLength: 100 }).map((bytes) => Buffer.from(bytes)),
    });
    await fc.assert(
      fc.asyncProperty(exchange, fc.stringMatching(/^[A-Za-z0-9_-]{8,24}$/), async (generated, nonce) => {
        await expect(verifyWithLibrary(generated, signWithUs(generated, nonce))).resolves.toBe(true);
        const signed = await signWithLibrary(generated, nonce);
        const ours = await verifyRequest(
          {
            method: generated.method,
            url: `${generated.path}${generated.search}`,
            headers: { ...signed.headers, host: 'router.example' },
            body: generated.body,
          },
          ourVerifyOptions(),
        );
        expect(ours).toMatchObject({ ok: true });
      }),
      { numRuns: 50 },
    );
  });
});
