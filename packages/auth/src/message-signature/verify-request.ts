import { checkContentDigest } from '../content-digest.js';
import type { NonceStore } from '../nonce-store/nonce-store.js';
import { DEFAULT_COVERED_COMPONENTS } from './covered-components.js';
import { getFieldValue } from './header-map.js';
import { matchesHmacSha256 } from './hmac-sha256.js';
import type { SignableRequest } from './signable-request.js';
import { createSignatureBase } from './signature-base.js';
import { type ParsedSignature, parseSignatureFields } from './signature-fields.js';
import type { VerifyFailureReason } from './verify-failure-reason.js';

export interface VerifyRequestOptions {
  /**
   * The active secrets of a key id: usually one, two while rotating, none for an unknown or disabled key.
   * Called only for structurally valid, in-window signatures.
   */
  resolveSecrets(keyId: string): readonly Uint8Array[] | Promise<readonly Uint8Array[]>;
  /** Current time, milliseconds since the epoch. */
  readonly nowMs: number;
  /** Accepted distance of `created` from now, both directions, in seconds. Default 300. */
  readonly windowSeconds?: number;
  /** Components every signature must cover. Default {@link DEFAULT_COVERED_COMPONENTS}. */
  readonly requiredComponents?: readonly string[];
  /**
   * Each nonce is claimed for twice the window plus one second, the longest span in which its `created`
   * stays acceptable (`now` is compared in whole seconds, so the last acceptable second is a whole one).
   */
  readonly nonceStore: NonceStore;
  /** Label of the signature to check. Default: the first one in Signature-Input. */
  readonly label?: string;
}

export type VerifyResult =
  | { readonly ok: true; readonly keyId: string; readonly label: string }
  | {
      readonly ok: false;
      readonly reason: VerifyFailureReason;
      /**
       * The keyid the signature claims (unverified), once its parameters are well-formed: for logs and audit
       * of whose key failed, e.g. a partner whose clock is off.
       */
      readonly keyId?: string;
    };

/** Longer key ids and nonces are refused as malformed (they end up in logs and store keys). */
export const MAX_KEY_ID_LENGTH = 256;
export const MAX_NONCE_LENGTH = 256;

const ALGORITHM = 'hmac-sha256';

/**
 * Verifies an RFC 9421 `hmac-sha256` request signature against our policy: required components covered,
 * `created`, `nonce` and `keyid` present, `created` within ±window, any Content-Digest matching the body,
 * HMAC matching one of the key's secrets (constant-time), and the nonce not seen before for this key. The
 * nonce is claimed only after the HMAC checks out, so forged requests cannot burn nonces.
 * Resolves to a result for every client mistake; rejects only when `resolveSecrets` or the nonce store
 * fails (the store's `dependency_unavailable` RouterError) — refuse the request then, never accept it.
 */
export async function verifyRequest(
  request: SignableRequest,
  options: VerifyRequestOptions,
): Promise<VerifyResult> {
  const parsed = parseSignatureFields(request.headers, options.label);
  if (!parsed.ok) {
    return parsed;
  }
  const signature = parsed.signature;
  const windowSeconds = options.windowSeconds ?? 300;
  const parameterFailure = checkParameters(signature);
  if (parameterFailure !== undefined) {
    return { ok: false, reason: parameterFailure };
  }
  // checkParameters has established both.
  const keyId = signature.parameters.keyid ?? '';
  const nonce = signature.parameters.nonce ?? '';
  const failure =
    checkAlgorithm(signature) ??
    checkRequiredComponents(signature, options.requiredComponents ?? DEFAULT_COVERED_COMPONENTS) ??
    checkTime(signature, Math.floor(options.nowMs / 1000), windowSeconds) ??
    checkDigest(request);
  if (failure !== undefined) {
    return { ok: false, reason: failure, keyId };
  }
  const base = createSignatureBase(signature.components, signature.signatureParams, request);
  if (!base.ok) {
    return { ok: false, reason: base.problem === 'absent' ? 'missing_component' : 'malformed', keyId };
  }
  const secrets = await options.resolveSecrets(keyId);
  if (secrets.length === 0) {
    return { ok: false, reason: 'unknown_key', keyId };
  }
  if (!matchesHmacSha256(secrets, base.base, signature.signature)) {
    return { ok: false, reason: 'bad_signature', keyId };
  }
  // created C is accepted from (C - window) s until just before (C + window + 1) s: 2 × window + 1 seconds.
  if (!(await options.nonceStore.claim(keyId, nonce, windowSeconds * 2 + 1))) {
    return { ok: false, reason: 'replayed_nonce', keyId };
  }
  return { ok: true, keyId, label: signature.label };
}

function checkParameters({ parameters }: ParsedSignature): VerifyFailureReason | undefined {
  const { created, nonce, keyid } = parameters;
  if (created === undefined || nonce === undefined || keyid === undefined) {
    return 'malformed';
  }
  if (
    nonce.length === 0 ||
    nonce.length > MAX_NONCE_LENGTH ||
    keyid.length === 0 ||
    keyid.length > MAX_KEY_ID_LENGTH
  ) {
    return 'malformed';
  }
  return undefined;
}

function checkAlgorithm({ parameters }: ParsedSignature): VerifyFailureReason | undefined {
  return parameters.alg !== undefined && parameters.alg !== ALGORITHM ? 'alg_unsupported' : undefined;
}

function checkRequiredComponents(
  { components }: ParsedSignature,
  required: readonly string[],
): VerifyFailureReason | undefined {
  return required.every((component) => components.includes(component)) ? undefined : 'missing_component';
}

function checkTime(
  { parameters }: ParsedSignature,
  nowSeconds: number,
  windowSeconds: number,
): VerifyFailureReason | undefined {
  const created = parameters.created ?? 0;
  if (created > nowSeconds + windowSeconds) {
    return 'future';
  }
  if (created < nowSeconds - windowSeconds) {
    return 'expired';
  }
  if (parameters.expires !== undefined && parameters.expires < nowSeconds) {
    return 'expired';
  }
  return undefined;
}

/** Any Content-Digest present must match the body, covered or not: a mismatch means a tampered body. */
function checkDigest(request: SignableRequest): VerifyFailureReason | undefined {
  const field = getFieldValue(request.headers, 'content-digest');
  if (field === undefined) {
    return undefined;
  }
  return checkContentDigest(field, request.body ?? new Uint8Array()) === 'ok' ? undefined : 'bad_digest';
}
