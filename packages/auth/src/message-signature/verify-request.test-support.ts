import { computeContentDigest } from '../content-digest.js';
import { createMemoryNonceStore } from '../nonce-store/memory-nonce-store.js';
import type { HeaderMap } from './header-map.js';
import { computeHmacSha256 } from './hmac-sha256.js';
import { type SignRequestOptions, signRequest } from './sign-request.js';
import type { SignableRequest } from './signable-request.js';
import { createSignatureBase } from './signature-base.js';
import {
  type SignatureParameters,
  serializeSignatureField,
  serializeSignatureInputField,
  serializeSignatureParams,
} from './signature-fields.js';
import type { VerifyRequestOptions } from './verify-request.js';

// Shared by the verifyRequest tests: a fixed clock, key and request, and signers that use them.

export const NOW_SECONDS = 1_750_000_000;
export const SECRET = Buffer.alloc(32, 7);
export const NEXT_SECRET = Buffer.alloc(32, 9);
export const REQUEST: SignableRequest = {
  method: 'POST',
  url: '/v1/chat/completions?stream=false',
  headers: { host: 'router.example', 'content-type': 'application/json' },
  body: Buffer.from('{"model":"demo","messages":[]}'),
};

export function sign(request: SignableRequest, options: Partial<SignRequestOptions> = {}): SignableRequest {
  const signature = signRequest(request, {
    keyId: 'partner-1',
    secret: SECRET,
    created: NOW_SECONDS,
    nonce: 'nonce-1',
    ...options,
  });
  return { ...request, headers: { ...request.headers, ...signature } };
}

/** Signs with arbitrary parameters, bypassing signRequest's own choices (for policy tests). */
export function signWithParameters(
  request: SignableRequest,
  components: readonly string[],
  parameters: SignatureParameters,
): SignableRequest {
  const headers: HeaderMap = {
    ...request.headers,
    'content-digest': computeContentDigest(request.body ?? new Uint8Array()),
  };
  const signatureParams = serializeSignatureParams(components, parameters);
  const base = createSignatureBase(components, signatureParams, { ...request, headers });
  if (!base.ok) throw new Error(base.problem);
  return {
    ...request,
    headers: {
      ...headers,
      'signature-input': serializeSignatureInputField('sig1', signatureParams),
      signature: serializeSignatureField('sig1', computeHmacSha256(SECRET, base.base)),
    },
  };
}

export function options(overrides: Partial<VerifyRequestOptions> = {}): VerifyRequestOptions {
  return {
    resolveSecrets: (keyId) => (keyId === 'partner-1' ? [SECRET] : []),
    nowMs: NOW_SECONDS * 1000,
    nonceStore: createMemoryNonceStore({ clock: { now: () => NOW_SECONDS * 1000 }, maxEntries: 100 }),
    ...overrides,
  };
}

export const DEFAULT_COMPONENTS = ['@method', '@path', '@query', 'content-digest'];
