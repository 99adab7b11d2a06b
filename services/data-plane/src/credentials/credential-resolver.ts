import { readFile } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import type { RuntimePolicy } from '@api-router/policy';
import type { CredentialRefChecker } from '../policy/credential-ref-checker.js';

/** The secret values a policy refers to, resolved on this data plane. In memory only, never logged. */
export interface ResolvedCredentials {
  /** Backend id → the bearer token sent upstream; absent when the backend has no credentialRef. */
  readonly backendTokens: ReadonlyMap<string, string>;
  /** API key public id (= RFC 9421 keyid) → its active hmac-sha256 secrets (one, or two while rotating). */
  readonly signingSecrets: ReadonlyMap<string, readonly Uint8Array[]>;
}

/**
 * Resolves every secret reference of a policy when it is applied (the policy holder's credential check),
 * and keeps the values for exactly that policy object. A reference that does not resolve rejects the
 * snapshot, so a policy that is active always has all its secrets.
 */
export interface CredentialResolver extends CredentialRefChecker {
  /** The values resolved for `policy`; undefined for a policy this resolver never accepted. */
  credentialsFor(policy: RuntimePolicy): ResolvedCredentials | undefined;
}

export interface CredentialResolverDeps {
  /** The environment snapshot taken by config.ts (never process.env directly). */
  environment: ReadonlyMap<string, string>;
  /** Reads a secret file; defaults to fs.readFile. */
  readFile?: (path: string) => Promise<Buffer>;
}

/** Most signing secrets per key id: the current one and the next one during a rotation. */
export const MAX_SIGNING_SECRETS = 2;
/** Shortest accepted hmac-sha256 secret: shorter keys make the MAC guessable (RFC 2104 §3). */
export const MIN_SIGNING_SECRET_BYTES = 16;

type Resolution = { ok: true; value: string } | { ok: false; problem: string };

/**
 * References are "env:NAME" (the variable must be set and non-empty) or "file:/absolute/path" (the file's
 * content, trimmed, must be non-empty). Backend tokens must fit in an HTTP header value (no line break or
 * other control character, nothing above U+00FF). Signing secrets are base64 or base64url text of at least
 * 16 bytes.
 * Rejection reasons name the backend or key and the reference, never a value.
 */
export function createCredentialResolver(deps: CredentialResolverDeps): CredentialResolver {
  const read = deps.readFile ?? ((path: string) => readFile(path));
  const resolved = new WeakMap<RuntimePolicy, ResolvedCredentials>();
  const resolveRef = (ref: string): Promise<Resolution> => resolveReference(ref, deps.environment, read);

  async function resolveBackends(policy: RuntimePolicy): Promise<Map<string, string> | string> {
    const tokens = new Map<string, string>();
    for (const backend of policy.backendsById.values()) {
      if (backend.credentialRef === '') continue;
      const result = await resolveRef(backend.credentialRef);
      const problem = result.ok ? checkBackendToken(result.value) : result.problem;
      if (problem !== undefined)
        return `backend "${backend.id}": credentialRef "${backend.credentialRef}" ${problem}`;
      if (result.ok) tokens.set(backend.id, result.value);
    }
    return tokens;
  }

  async function resolveSigningSecrets(
    policy: RuntimePolicy,
  ): Promise<Map<string, readonly Uint8Array[]> | string> {
    const secretsByKey = new Map<string, readonly Uint8Array[]>();
    for (const key of policy.apiKeysByPublicId.values()) {
      const refs = key.signingSecretRefs;
      if (refs.length === 0) continue;
      if (refs.length > MAX_SIGNING_SECRETS) {
        return `API key "${key.publicId}": ${refs.length} signing_secret_refs, at most ${MAX_SIGNING_SECRETS}`;
      }
      const secrets: Uint8Array[] = [];
      for (const ref of refs) {
        const result = await resolveRef(ref);
        const problem = result.ok ? checkSigningSecret(result.value) : result.problem;
        if (problem !== undefined) return `API key "${key.publicId}": signing secret "${ref}" ${problem}`;
        if (result.ok) secrets.push(Buffer.from(result.value, 'base64'));
      }
      secretsByKey.set(key.publicId, secrets);
    }
    return secretsByKey;
  }

  return {
    async check(policy) {
      const backendTokens = await resolveBackends(policy);
      if (typeof backendTokens === 'string') return backendTokens;
      const signingSecrets = await resolveSigningSecrets(policy);
      if (typeof signingSecrets === 'string') return signingSecrets;
      resolved.set(policy, { backendTokens, signingSecrets });
      return undefined;
    },
    credentialsFor: (policy) => resolved.get(policy),
  };
}

async function resolveReference(
  ref: string,
  environment: ReadonlyMap<string, string>,
  read: (path: string) => Promise<Buffer>,
): Promise<Resolution> {
  if (ref.startsWith('env:')) {
    const name = ref.slice('env:'.length);
    if (name === '') return { ok: false, problem: 'names no environment variable' };
    const value = environment.get(name)?.trim();
    return value
      ? { ok: true, value }
      : {
          ok: false,
          problem: `is not resolvable: environment variable ${name} is not set on this data plane`,
        };
  }
  if (ref.startsWith('file:')) {
    const path = ref.slice('file:'.length);
    if (!isAbsolute(path)) return { ok: false, problem: 'must name an absolute path' };
    try {
      const value = (await read(path)).toString('utf8').trim();
      if (value !== '') return { ok: true, value };
    } catch {
      // Missing, unreadable, a directory…: all mean "not resolvable"; the reason names the path, not the error,
      // so that nothing read from the file can end up in a log line.
    }
    return { ok: false, problem: `is not resolvable: ${path} does not exist, is not readable or is empty` };
  }
  return { ok: false, problem: 'has an unknown scheme (expected env:NAME or file:/path)' };
}

/**
 * Characters an HTTP header value cannot hold (undici refuses them): a token with one would fail every call
 * to its backend, so it rejects the policy instead.
 */
const NOT_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

function checkBackendToken(text: string): string | undefined {
  if (NOT_HEADER_VALUE.test(text)) {
    return 'cannot be sent in an HTTP header (a line break or another character outside Latin-1 text)';
  }
  return undefined;
}

function checkSigningSecret(text: string): string | undefined {
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) return 'is not base64 text';
  if (Buffer.from(text, 'base64').length < MIN_SIGNING_SECRET_BYTES) {
    return `is shorter than ${MIN_SIGNING_SECRET_BYTES} bytes`;
  }
  return undefined;
}
