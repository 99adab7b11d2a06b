import { describe, expect, it } from 'vitest';
import { computeContentDigest } from '../content-digest.js';
import type { SignableRequest } from './signable-request.js';
import type { SignatureParameters } from './signature-fields.js';
import { verifyRequest } from './verify-request.js';
import {
  NOW_SECONDS,
  REQUEST,
  sign,
  signWithParameters,
  options,
  DEFAULT_COMPONENTS,
} from './verify-request.test-support.js';

describe('verifyRequest', () => {
  it('accepts a request signed by signRequest and names the key and label', async () => {
    await expect(verifyRequest(sign(REQUEST), options())).resolves.toEqual({
      ok: true,
      keyId: 'partner-1',
      label: 'sig1',
    });
  });

  it('accepts an empty body (its digest is still covered) and an explicit alg="hmac-sha256"', async () => {
    const get: SignableRequest = { method: 'GET', url: '/v1/models', headers: {} };
    await expect(verifyRequest(sign(get), options())).resolves.toMatchObject({ ok: true });
    const withAlg = signWithParameters(REQUEST, DEFAULT_COMPONENTS, {
      created: NOW_SECONDS,
      keyid: 'partner-1',
      nonce: 'n',
      alg: 'hmac-sha256',
    });
    await expect(verifyRequest(withAlg, options())).resolves.toMatchObject({ ok: true });
  });

  it('checks the requested label when one is given', async () => {
    const signed = sign(REQUEST, { label: 'router' });
    await expect(verifyRequest(signed, options({ label: 'router' }))).resolves.toMatchObject({
      ok: true,
      label: 'router',
    });
    await expect(verifyRequest(signed, options({ label: 'sig1' }))).resolves.toEqual({
      ok: false,
      reason: 'missing_signature',
    });
  });

  describe('failure reasons', () => {
    it('missing_signature: no fields, or only one of the two', async () => {
      const signed = sign(REQUEST);
      const {
        signature: _signature,
        Signature: _upper,
        ...withoutSignature
      } = signed.headers as Record<string, string>;
      await expect(verifyRequest(REQUEST, options())).resolves.toEqual({
        ok: false,
        reason: 'missing_signature',
      });
      await expect(verifyRequest({ ...signed, headers: withoutSignature }, options())).resolves.toEqual({
        ok: false,
        reason: 'missing_signature',
      });
    });

    it.each([
      ['garbage Signature-Input', { 'Signature-Input': 'sig1=(((' }],
      ['garbage Signature', { Signature: 'sig1=:not base64!:' }],
      ['signature is not a byte sequence', { Signature: 'sig1="abc"' }],
      [
        'component with parameters',
        { 'Signature-Input': 'sig1=("@query-param";name="a");created=1;keyid="k";nonce="n"' },
      ],
      ['upper-case component', { 'Signature-Input': 'sig1=("@Method");created=1;keyid="k";nonce="n"' }],
      [
        'duplicate component',
        { 'Signature-Input': 'sig1=("@method" "@method");created=1;keyid="k";nonce="n"' },
      ],
      ['token component', { 'Signature-Input': 'sig1=(method);created=1;keyid="k";nonce="n"' }],
      ['created is a string', { 'Signature-Input': 'sig1=("@method");created="1";keyid="k";nonce="n"' }],
      ['keyid is a token', { 'Signature-Input': 'sig1=("@method");created=1;keyid=k;nonce="n"' }],
      ['Signature-Input is not an inner list', { 'Signature-Input': 'sig1="@method";created=1' }],
      ['label in Signature-Input only', { Signature: 'other=:AAAA:' }],
      ['oversized field', { 'Signature-Input': `sig1=();created=1;keyid="${'k'.repeat(9000)}";nonce="n"` }],
    ])('malformed: %s', async (_name, replacement) => {
      const signed = sign(REQUEST);
      const result = await verifyRequest(
        { ...signed, headers: { ...signed.headers, ...replacement } },
        options(),
      );
      expect(result).toEqual({ ok: false, reason: 'malformed' });
    });

    it.each([
      ['created', { keyid: 'partner-1', nonce: 'n' }],
      ['nonce', { created: NOW_SECONDS, keyid: 'partner-1' }],
      ['keyid', { created: NOW_SECONDS, nonce: 'n' }],
      ['non-empty nonce', { created: NOW_SECONDS, keyid: 'partner-1', nonce: '' }],
    ])('malformed: missing %s', async (_name, parameters: SignatureParameters) => {
      const signed = signWithParameters(REQUEST, DEFAULT_COMPONENTS, parameters);
      await expect(verifyRequest(signed, options())).resolves.toEqual({ ok: false, reason: 'malformed' });
    });

    it('malformed: a covered component this implementation cannot derive', async () => {
      const signed = sign(REQUEST);
      const input = signed.headers['Signature-Input'] as string;
      const headers = {
        ...signed.headers,
        'Signature-Input': input.replace('"@method"', '"@method" "@status"'),
      };
      await expect(verifyRequest({ ...signed, headers }, options())).resolves.toEqual({
        ok: false,
        reason: 'malformed',
        keyId: 'partner-1',
      });
    });

    it('unknown_key: keyid resolves to no secret', async () => {
      await expect(verifyRequest(sign(REQUEST, { keyId: 'stranger' }), options())).resolves.toEqual({
        ok: false,
        reason: 'unknown_key',
        keyId: 'stranger',
      });
    });

    it('missing_component: a required component is not covered', async () => {
      const signed = sign(REQUEST, { components: ['@method', '@path', 'content-digest'] });
      await expect(verifyRequest(signed, options())).resolves.toEqual({
        ok: false,
        reason: 'missing_component',
        keyId: 'partner-1',
      });
      const strict = options({ requiredComponents: [...DEFAULT_COMPONENTS, 'content-type'] });
      await expect(verifyRequest(sign(REQUEST), strict)).resolves.toEqual({
        ok: false,
        reason: 'missing_component',
        keyId: 'partner-1',
      });
    });

    it('missing_component: a covered field is absent from the request', async () => {
      const signed = sign(REQUEST, { components: [...DEFAULT_COMPONENTS, 'content-type'] });
      const { 'content-type': _removed, ...headers } = signed.headers as Record<string, string>;
      await expect(verifyRequest({ ...signed, headers }, options())).resolves.toEqual({
        ok: false,
        reason: 'missing_component',
        keyId: 'partner-1',
      });
    });

    it('bad_digest: the body changed, or the digest lacks sha-256', async () => {
      const signed = sign(REQUEST);
      await expect(
        verifyRequest({ ...signed, body: Buffer.from('{"model":"other"}') }, options()),
      ).resolves.toEqual({ ok: false, reason: 'bad_digest', keyId: 'partner-1' });
      const sha512Only = {
        ...signed.headers,
        'Content-Digest': computeContentDigest(REQUEST.body!, ['sha-512']),
      };
      await expect(verifyRequest({ ...signed, headers: sha512Only }, options())).resolves.toEqual({
        ok: false,
        reason: 'bad_digest',
        keyId: 'partner-1',
      });
    });

    it('bad_signature: wrong secret, or a covered part changed', async () => {
      await expect(verifyRequest(sign(REQUEST, { secret: Buffer.alloc(32, 1) }), options())).resolves.toEqual(
        { ok: false, reason: 'bad_signature', keyId: 'partner-1' },
      );
      const signed = sign(REQUEST);
      await expect(
        verifyRequest({ ...signed, url: '/v1/chat/completions?stream=true' }, options()),
      ).resolves.toEqual({ ok: false, reason: 'bad_signature', keyId: 'partner-1' });
      await expect(verifyRequest({ ...signed, method: 'post' }, options())).resolves.toEqual({
        ok: false,
        reason: 'bad_signature',
        keyId: 'partner-1',
      });
    });

    it('a covered field or Content-Digest with a trailing NBSP added never verifies', async () => {
      // Node passes obs-text such as 0xA0 on in header values; it is not whitespace to HTTP, so the value
      // with it is not the value that was signed.
      const signed = sign(REQUEST, { components: [...DEFAULT_COMPONENTS, 'content-type'] });
      for (const name of ['content-type', 'Content-Digest']) {
        const headers = { ...signed.headers, [name]: `${String(signed.headers[name])}\u00a0` };
        const result = await verifyRequest({ ...signed, headers }, options());
        expect(result.ok, name).toBe(false);
      }
    });

    it('bad_signature: a truncated signature', async () => {
      const signed = sign(REQUEST);
      const headers = { ...signed.headers, Signature: 'sig1=:AAAA:' };
      await expect(verifyRequest({ ...signed, headers }, options())).resolves.toEqual({
        ok: false,
        reason: 'bad_signature',
        keyId: 'partner-1',
      });
    });

    it('expired and future: created outside ±window; expires in the past', async () => {
      const at = (created: number) => verifyRequest(sign(REQUEST, { created }), options());
      await expect(at(NOW_SECONDS - 301)).resolves.toEqual({
        ok: false,
        reason: 'expired',
        keyId: 'partner-1',
      });
      await expect(at(NOW_SECONDS + 301)).resolves.toEqual({
        ok: false,
        reason: 'future',
        keyId: 'partner-1',
      });
      const expired = signWithParameters(REQUEST, DEFAULT_COMPONENTS, {
        created: NOW_SECONDS - 10,
        expires: NOW_SECONDS - 1,
        keyid: 'partner-1',
        nonce: 'n',
      });
      await expect(verifyRequest(expired, options())).resolves.toEqual({
        ok: false,
        reason: 'expired',
        keyId: 'partner-1',
      });
    });

    it('replayed_nonce: the same signed request twice', async () => {
      const verifyOptions = options();
      const signed = sign(REQUEST);
      await expect(verifyRequest(signed, verifyOptions)).resolves.toMatchObject({ ok: true });
      await expect(verifyRequest(signed, verifyOptions)).resolves.toEqual({
        ok: false,
        reason: 'replayed_nonce',
        keyId: 'partner-1',
      });
    });

    it('alg_unsupported: any alg but hmac-sha256', async () => {
      const signed = signWithParameters(REQUEST, DEFAULT_COMPONENTS, {
        created: NOW_SECONDS,
        keyid: 'partner-1',
        nonce: 'n',
        alg: 'rsa-pss-sha512',
      });
      await expect(verifyRequest(signed, options())).resolves.toEqual({
        ok: false,
        reason: 'alg_unsupported',
        keyId: 'partner-1',
      });
    });
  });
});
