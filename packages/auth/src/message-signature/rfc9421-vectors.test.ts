import { describe, expect, it } from 'vitest';
import { createMemoryNonceStore } from '../nonce-store/memory-nonce-store.js';
import { computeHmacSha256, matchesHmacSha256 } from './hmac-sha256.js';
import type { SignableRequest } from './signable-request.js';
import { createSignatureBase } from './signature-base.js';
import {
  parseSignatureFields,
  serializeSignatureField,
  serializeSignatureInputField,
  serializeSignatureParams,
} from './signature-fields.js';
import { verifyRequest } from './verify-request.js';

// RFC 9421 Appendix B.2 "test-request" and the B.1.5 "test-shared-secret".
const TEST_REQUEST: SignableRequest = {
  method: 'POST',
  url: '/foo?param=Value&Pet=dog',
  headers: {
    host: 'example.com',
    date: 'Tue, 20 Apr 2021 02:07:55 GMT',
    'content-type': 'application/json',
    'content-digest':
      'sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:',
    'content-length': '18',
  },
  body: Buffer.from('{"hello": "world"}'),
};
const TEST_SHARED_SECRET = Buffer.from(
  'uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ==',
  'base64',
);
const CREATED = 1618884473;

describe('RFC 9421 B.2.5: signing a request using hmac-sha256', () => {
  const components = ['date', '@authority', 'content-type'];
  const expectedBase = [
    '"date": Tue, 20 Apr 2021 02:07:55 GMT',
    '"@authority": example.com',
    '"content-type": application/json',
    '"@signature-params": ("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"',
  ].join('\n');
  const expectedInput =
    'sig-b25=("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"';
  const expectedSignature = 'sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:';

  it('reproduces the signature base, Signature-Input and Signature exactly', () => {
    const signatureParams = serializeSignatureParams(components, {
      created: CREATED,
      keyid: 'test-shared-secret',
    });
    const base = createSignatureBase(components, signatureParams, TEST_REQUEST);
    expect(base).toEqual({ ok: true, base: expectedBase });
    expect(serializeSignatureInputField('sig-b25', signatureParams)).toBe(expectedInput);
    expect(serializeSignatureField('sig-b25', computeHmacSha256(TEST_SHARED_SECRET, expectedBase))).toBe(
      expectedSignature,
    );
  });

  it('parses the published fields back to the same base and a matching HMAC', () => {
    const parsed = parseSignatureFields({
      ...TEST_REQUEST.headers,
      'signature-input': expectedInput,
      signature: expectedSignature,
    });
    if (!parsed.ok) throw new Error(parsed.reason);
    expect(parsed.signature.label).toBe('sig-b25');
    expect(parsed.signature.parameters).toEqual({ created: CREATED, keyid: 'test-shared-secret' });
    const base = createSignatureBase(
      parsed.signature.components,
      parsed.signature.signatureParams,
      TEST_REQUEST,
    );
    expect(base).toEqual({ ok: true, base: expectedBase });
    expect(matchesHmacSha256([TEST_SHARED_SECRET], expectedBase, parsed.signature.signature)).toBe(true);
  });

  it('is still refused by our policy, which requires a nonce', async () => {
    const result = await verifyRequest(
      {
        ...TEST_REQUEST,
        headers: { ...TEST_REQUEST.headers, 'signature-input': expectedInput, signature: expectedSignature },
      },
      {
        resolveSecrets: () => [TEST_SHARED_SECRET],
        nowMs: CREATED * 1000,
        requiredComponents: [],
        nonceStore: createMemoryNonceStore({ clock: { now: () => CREATED * 1000 }, maxEntries: 10 }),
      },
    );
    expect(result).toEqual({ ok: false, reason: 'malformed' });
  });
});

describe('RFC 9421 signature bases of other Appendix B examples', () => {
  it('B.2.3 full coverage (derived components, content-digest, content-length)', () => {
    const components = [
      'date',
      '@method',
      '@path',
      '@query',
      '@authority',
      'content-type',
      'content-digest',
      'content-length',
    ];
    const signatureParams = serializeSignatureParams(components, {
      created: CREATED,
      keyid: 'test-key-rsa-pss',
    });
    expect(createSignatureBase(components, signatureParams, TEST_REQUEST)).toEqual({
      ok: true,
      base: [
        '"date": Tue, 20 Apr 2021 02:07:55 GMT',
        '"@method": POST',
        '"@path": /foo',
        '"@query": ?param=Value&Pet=dog',
        '"@authority": example.com',
        '"content-type": application/json',
        '"content-digest": sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:',
        '"content-length": 18',
        '"@signature-params": ("date" "@method" "@path" "@query" "@authority" "content-type" "content-digest" "content-length");created=1618884473;keyid="test-key-rsa-pss"',
      ].join('\n'),
    });
  });

  it('B.2.1 minimal: no components, a nonce and alg-free parameters', () => {
    const signatureParams = serializeSignatureParams([], {
      created: CREATED,
      keyid: 'test-key-rsa-pss',
      nonce: 'b3k2pp5k7z-50gnwp.yemd',
    });
    expect(createSignatureBase([], signatureParams, TEST_REQUEST)).toEqual({
      ok: true,
      base: '"@signature-params": ();created=1618884473;keyid="test-key-rsa-pss";nonce="b3k2pp5k7z-50gnwp.yemd"',
    });
  });

  it('derives @target-uri, @scheme and @query from the RFC 9421 §2.2 examples', () => {
    const request: SignableRequest = {
      method: 'POST',
      url: '/path?param=value',
      headers: { host: 'www.example.com' },
    };
    const components = ['@target-uri', '@scheme', '@authority', '@path', '@query'];
    const base = createSignatureBase(components, '()', request);
    expect(base).toEqual({
      ok: true,
      base: [
        '"@target-uri": https://www.example.com/path?param=value',
        '"@scheme": https',
        '"@authority": www.example.com',
        '"@path": /path',
        '"@query": ?param=value',
        '"@signature-params": ()',
      ].join('\n'),
    });
    expect(createSignatureBase(['@query'], '()', { ...request, url: '/path' })).toMatchObject({
      base: '"@query": ?\n"@signature-params": ()',
    });
    expect(createSignatureBase(['@query'], '()', { ...request, url: '/path?queryString' })).toMatchObject({
      base: '"@query": ?queryString\n"@signature-params": ()',
    });
  });
});
