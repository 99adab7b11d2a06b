import { describe, expect, it } from 'vitest';
import { computeContentDigest } from '../content-digest.js';
import { signRequest } from './sign-request.js';

const SECRET = Buffer.alloc(32, 3);

describe('signRequest', () => {
  it('covers the default components with created, keyid and nonce, in that order', () => {
    const headers = signRequest(
      { method: 'POST', url: '/v1/x?y=1', headers: {}, body: Buffer.from('{}') },
      { keyId: 'partner-1', secret: SECRET, created: 1_700_000_000, nonce: 'abc' },
    );
    expect(headers['Signature-Input']).toBe(
      'sig1=("@method" "@path" "@query" "content-digest");created=1700000000;keyid="partner-1";nonce="abc"',
    );
    expect(headers.Signature).toMatch(/^sig1=:[A-Za-z0-9+/]{43}=:$/);
    expect(headers['Content-Digest']).toBe(computeContentDigest(Buffer.from('{}')));
  });

  it('replaces a Content-Digest supplied by the caller with one of the actual body', () => {
    const body = Buffer.from('real');
    const stale = computeContentDigest(Buffer.from('stale'));
    const headers = signRequest(
      { method: 'POST', url: '/', headers: { 'Content-Digest': stale }, body },
      { keyId: 'k', secret: SECRET, created: 1, nonce: 'n' },
    );
    expect(headers['Content-Digest']).toBe(computeContentDigest(body));
  });

  it('draws a fresh nonce by default', () => {
    const sign = () =>
      signRequest({ method: 'GET', url: '/', headers: {} }, { keyId: 'k', secret: SECRET, created: 1 });
    expect(sign()['Signature-Input']).not.toBe(sign()['Signature-Input']);
  });

  it('throws when a covered component is absent, or a parameter is not ASCII', () => {
    const request = { method: 'GET', url: '/', headers: {} };
    expect(() => signRequest(request, { keyId: 'k', secret: SECRET, components: ['content-type'] })).toThrow(
      TypeError,
    );
    expect(() => signRequest(request, { keyId: 'k', secret: SECRET, components: ['@status'] })).toThrow(
      TypeError,
    );
    expect(() => signRequest(request, { keyId: 'clé', secret: SECRET })).toThrow();
    expect(() => signRequest(request, { keyId: 'k', secret: SECRET, label: 'Sig' })).toThrow(TypeError);
  });
});
