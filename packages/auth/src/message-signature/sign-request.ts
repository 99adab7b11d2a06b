import { randomBytes } from 'node:crypto';
import { computeContentDigest } from '../content-digest.js';
import { DEFAULT_COVERED_COMPONENTS, MAX_COVERED_COMPONENTS } from './covered-components.js';
import type { HeaderMap } from './header-map.js';
import { computeHmacSha256 } from './hmac-sha256.js';
import type { SignableRequest } from './signable-request.js';
import { createSignatureBase } from './signature-base.js';
import {
  serializeSignatureField,
  serializeSignatureInputField,
  serializeSignatureParams,
} from './signature-fields.js';

export interface SignRequestOptions {
  /** Sent as the `keyid` parameter; the verifier resolves secrets by it. */
  readonly keyId: string;
  /** The shared HMAC secret (raw bytes; 32 random bytes recommended). */
  readonly secret: Uint8Array;
  /** Signature label in the dictionaries. Default 'sig1'. */
  readonly label?: string;
  /** `created` parameter, Unix seconds. Default: now. */
  readonly created?: number;
  /** `nonce` parameter, printable ASCII; the verifier accepts each nonce once. Default: 16 random bytes, base64url. */
  readonly nonce?: string;
  /** Covered components in order. Default {@link DEFAULT_COVERED_COMPONENTS}. */
  readonly components?: readonly string[];
}

/** Fields to add to the request. */
export interface SignatureHeaders {
  readonly 'Signature-Input': string;
  readonly Signature: string;
  /** sha-256 of the exact body bytes (empty body when none); always send it. */
  readonly 'Content-Digest': string;
}

/**
 * Signs a request with RFC 9421 `hmac-sha256`. A Content-Digest over the body is computed here and
 * replaces any Content-Digest already in `request.headers`. Throws a TypeError when a covered component
 * is absent from the request (e.g. `content-type` without that header) or a parameter cannot be
 * serialised (non-ASCII key id or nonce): both are mistakes on the signing side.
 */
export function signRequest(request: SignableRequest, options: SignRequestOptions): SignatureHeaders {
  const label = options.label ?? 'sig1';
  const components = options.components ?? DEFAULT_COVERED_COMPONENTS;
  if (components.length > MAX_COVERED_COMPONENTS) {
    throw new TypeError(`cannot sign: more than ${MAX_COVERED_COMPONENTS} covered components`);
  }
  const contentDigest = computeContentDigest(request.body ?? new Uint8Array());
  const headers: HeaderMap = {
    ...withoutField(request.headers, 'content-digest'),
    'content-digest': contentDigest,
  };
  const signatureParams = serializeSignatureParams(components, {
    created: options.created ?? Math.floor(Date.now() / 1000),
    keyid: options.keyId,
    nonce: options.nonce ?? randomBytes(16).toString('base64url'),
  });
  const base = createSignatureBase(components, signatureParams, { ...request, headers });
  if (!base.ok) {
    throw new TypeError(`cannot sign: component "${base.component}" is ${base.problem} in this request`);
  }
  return {
    'Signature-Input': serializeSignatureInputField(label, signatureParams),
    Signature: serializeSignatureField(label, computeHmacSha256(options.secret, base.base)),
    'Content-Digest': contentDigest,
  };
}

function withoutField(headers: HeaderMap, name: string): HeaderMap {
  return Object.fromEntries(
    Object.entries(headers).filter(([fieldName]) => fieldName.toLowerCase() !== name),
  );
}
