import type { IncomingHttpHeaders } from 'node:http';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { verifyApiKey, verifyRequest, type NonceStore } from '@api-router/auth';
import type { ApiKey } from '@api-router/contracts';
import type { RuntimePolicy } from '@api-router/policy';
import type { Clock } from '../clock.js';
import type { ResolvedCredentials } from '../credentials/credential-resolver.js';
import type { AuthFailureReason } from './auth-failure-reason.js';
import type { Principal } from './principal.js';

/** The parts of a request that authentication reads (a fastify request maps onto it directly). */
export interface AuthenticationInput {
  readonly method: string;
  /** Request target exactly as received (origin form), as signed by the client. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /**
   * The header lines as received (Node's rawHeaders: name, value, name, value…). `headers` keeps only the
   * first of several Authorization lines; these show there were more. Undefined when unknown (tests).
   */
  readonly rawHeaders?: readonly string[];
  /** Exact body bytes; undefined for a request without a body. */
  readonly body: Uint8Array | undefined;
  /** "http" or "https", for a signature covering @target-uri or @scheme. */
  readonly scheme: string;
}

export type AuthenticationResult =
  | { readonly ok: true; readonly principal: Principal }
  | { readonly ok: false; readonly reason: AuthFailureReason; readonly keyId?: string };

export interface RequestAuthenticatorDeps {
  clock: Clock;
  /** Where signature nonces are claimed: in-process, or Redis shared by all replicas. */
  nonceStore: NonceStore;
  /** Accepted distance of a signature's `created` from now, both directions, in seconds. */
  signatureWindowSeconds: number;
}

export type RequestAuthenticator = (
  input: AuthenticationInput,
  policy: RuntimePolicy,
  credentials: ResolvedCredentials,
) => Promise<AuthenticationResult>;

/** Longest Authorization header value considered at all (a well-formed one is under 100 characters). */
const MAX_AUTHORIZATION_LENGTH = 512;
const PUBLIC_ID_PATTERN = /^rk_[a-z0-9]{4,32}$/;
const KEY_SECRET_PATTERN = /^[\x21-\x7e]+$/;

/**
 * Authenticates a request by API key (`Authorization: Bearer <publicId>.<secret>`, compared as a sha256 in
 * constant time) or by an RFC 9421 hmac-sha256 signature whose keyid is a key's public id, then checks that
 * the key is usable (not disabled or expired, tenant not disabled). Resolves to the principal or to the
 * failure reason; rejects only when the nonce store fails (a `dependency_unavailable` RouterError).
 */
export function createRequestAuthenticator(deps: RequestAuthenticatorDeps): RequestAuthenticator {
  return async (input, policy, credentials) => {
    const signed = input.headers['signature-input'] !== undefined || input.headers.signature !== undefined;
    const authorization = input.headers.authorization;
    if (authorization !== undefined && (signed || authorizationLines(input.rawHeaders) > 1))
      return { ok: false, reason: 'ambiguous_credentials' };
    const nowMs = deps.clock.now();
    if (signed) return authenticateSignature(input, policy, credentials, nowMs, deps);
    if (authorization === undefined) return { ok: false, reason: 'missing_credentials' };
    return authenticateApiKey(authorization, policy, nowMs);
  };
}

function authenticateApiKey(
  authorization: string,
  policy: RuntimePolicy,
  nowMs: number,
): AuthenticationResult {
  const token = bearerToken(authorization);
  const dot = token?.indexOf('.') ?? -1;
  const publicId = token?.slice(0, dot);
  // The secret's shape is not checked beyond "printable": the stored hash decides, and keys issued before the
  // current generator (e.g. demo keys) keep working.
  if (token === undefined || publicId === undefined || dot < 0 || !PUBLIC_ID_PATTERN.test(publicId)) {
    return { ok: false, reason: 'malformed_key' };
  }
  if (!KEY_SECRET_PATTERN.test(token.slice(dot + 1))) return { ok: false, reason: 'malformed_key' };
  const key = policy.apiKeysByPublicId.get(publicId);
  if (key === undefined) return { ok: false, reason: 'unknown_key', keyId: publicId };
  if (!verifyApiKey(token, key.secretSha256)) return { ok: false, reason: 'wrong_secret', keyId: publicId };
  return usableKey(key, policy, nowMs, 'api_key');
}

function bearerToken(authorization: string): string | undefined {
  if (authorization.length > MAX_AUTHORIZATION_LENGTH) return undefined;
  const match = /^Bearer +(\S+) *$/i.exec(authorization);
  return match?.[1];
}

async function authenticateSignature(
  input: AuthenticationInput,
  policy: RuntimePolicy,
  credentials: ResolvedCredentials,
  nowMs: number,
  deps: RequestAuthenticatorDeps,
): Promise<AuthenticationResult> {
  const result = await verifyRequest(
    { method: input.method, url: input.url, headers: input.headers, body: input.body, scheme: input.scheme },
    {
      resolveSecrets: (keyId) => credentials.signingSecrets.get(keyId) ?? [],
      nowMs,
      windowSeconds: deps.signatureWindowSeconds,
      nonceStore: deps.nonceStore,
    },
  );
  if (!result.ok) {
    // The claimed keyid is unverified: named (log line, audit event's key and tenant) only when it is a key of
    // this policy, as a bearer key's public id is for a wrong secret; any other text is never echoed.
    const claimed = result.keyId;
    const keyId = claimed !== undefined && policy.apiKeysByPublicId.has(claimed) ? claimed : undefined;
    return { ok: false, reason: `signature_${result.reason}`, ...(keyId === undefined ? {} : { keyId }) };
  }
  const key = policy.apiKeysByPublicId.get(result.keyId);
  // Secrets are only resolved for keys of this policy, so a verified keyid always names a key.
  if (key === undefined) return { ok: false, reason: 'signature_unknown_key', keyId: result.keyId };
  return usableKey(key, policy, nowMs, 'signature');
}

function usableKey(
  key: ApiKey,
  policy: RuntimePolicy,
  nowMs: number,
  scheme: Principal['scheme'],
): AuthenticationResult {
  const keyId = key.publicId;
  if (key.disabled) return { ok: false, reason: 'key_disabled', keyId };
  if (key.expiresAt !== undefined && timestampMs(key.expiresAt) <= nowMs) {
    return { ok: false, reason: 'key_expired', keyId };
  }
  const tenant = policy.tenantsById.get(key.tenantId);
  if (tenant === undefined || tenant.disabled) return { ok: false, reason: 'tenant_disabled', keyId };
  return {
    ok: true,
    principal: { keyId, tenantId: key.tenantId, allowedModels: key.allowedModels, scheme },
  };
}

/**
 * How many Authorization lines the request had. Node keeps the first in `headers` and drops the others, so
 * two keys (a client's and a proxy's, say) would be served as whichever came first: refused instead.
 */
function authorizationLines(rawHeaders: readonly string[] | undefined): number {
  if (rawHeaders === undefined) return 1;
  let lines = 0;
  for (let index = 0; index < rawHeaders.length; index += 2) {
    const name = rawHeaders[index]!;
    if (name.length === 13 && name.toLowerCase() === 'authorization') lines += 1;
  }
  return lines;
}
