import type { IncomingHttpHeaders } from 'node:http';
import { beforeEach, describe, expect, it } from 'vitest';
import { createMemoryNonceStore, createSigner } from '@api-router/auth';
import { createCredentialResolver, type ResolvedCredentials } from '../credentials/credential-resolver.js';
import {
  buildTestPolicy,
  TEST_KEYS,
  testApiKey,
  testSigningSecret,
} from '../testing/test-policy.test-support.js';
import { createRequestAuthenticator, type AuthenticationInput } from './request-authenticator.js';

const NOW_MS = 1_750_000_000_000;
const clock = { now: () => NOW_MS };
const policy = buildTestPolicy({
  signingSecretRefs: { [TEST_KEYS.signer]: ['env:OLD', 'env:NEW'], [TEST_KEYS.disabled]: ['env:OLD'] },
});
let credentials: ResolvedCredentials;

beforeEach(async () => {
  const resolver = createCredentialResolver({
    environment: new Map([
      ['MOCK_A_KEY', 'x'],
      ['OLD', testSigningSecret('old')],
      ['NEW', testSigningSecret('new')],
    ]),
  });
  expect(await resolver.check(policy)).toBeUndefined();
  credentials = resolver.credentialsFor(policy)!;
});

function authenticator() {
  return createRequestAuthenticator({
    clock,
    nonceStore: createMemoryNonceStore({ clock, maxEntries: 100 }),
    signatureWindowSeconds: 300,
  });
}

const body = Buffer.from('{"model":"demo-chat","messages":[{"role":"user","content":"hi"}]}');

function input(
  headers: IncomingHttpHeaders,
  overrides: Partial<AuthenticationInput> = {},
): AuthenticationInput {
  return { method: 'POST', url: '/v1/chat/completions?x=1', headers, body, scheme: 'http', ...overrides };
}

function signed(keyId: string, secretLabel: string, options: { createdMs?: number; nonce?: string } = {}) {
  const sign = createSigner({
    keyId,
    secret: Buffer.from(testSigningSecret(secretLabel), 'base64'),
    clock: { now: () => options.createdMs ?? NOW_MS },
    ...(options.nonce === undefined ? {} : { createNonce: () => options.nonce! }),
  });
  const headers = sign({ method: 'POST', url: 'http://router.test/v1/chat/completions?x=1', body });
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}

describe('API keys', () => {
  it('authenticates a valid key as its principal', async () => {
    const result = await authenticator()(
      input({ authorization: `Bearer ${testApiKey(TEST_KEYS.demo)}` }),
      policy,
      credentials,
    );
    expect(result).toEqual({
      ok: true,
      principal: { keyId: 'rk_demo01', tenantId: 'acme', allowedModels: ['*'], scheme: 'api_key' },
    });
  });

  it.each([
    ['no credentials', {}, 'missing_credentials'],
    ['a non-bearer scheme', { authorization: `Basic ${testApiKey(TEST_KEYS.demo)}` }, 'malformed_key'],
    ['a token without a public id', { authorization: 'Bearer nodot' }, 'malformed_key'],
    ['a bad public id', { authorization: 'Bearer RK_DEMO01.abc' }, 'malformed_key'],
    ['an overlong header', { authorization: `Bearer rk_demo01.${'a'.repeat(600)}` }, 'malformed_key'],
    ['an unknown key', { authorization: `Bearer ${testApiKey('rk_nobody')}` }, 'unknown_key'],
    [
      'a wrong secret',
      { authorization: `Bearer ${testApiKey('rk_other')}`.replace('rk_other', 'rk_demo01') },
      'wrong_secret',
    ],
    ['a disabled key', { authorization: `Bearer ${testApiKey(TEST_KEYS.disabled)}` }, 'key_disabled'],
    ['an expired key', { authorization: `Bearer ${testApiKey(TEST_KEYS.expired)}` }, 'key_expired'],
    [
      'a key of a disabled tenant',
      { authorization: `Bearer ${testApiKey(TEST_KEYS.frozenTenant)}` },
      'tenant_disabled',
    ],
  ])('refuses %s', async (_name, headers: IncomingHttpHeaders, reason) => {
    const result = await authenticator()(input(headers), policy, credentials);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.reason).toBe(reason);
  });
});

describe('RFC 9421 signatures', () => {
  it('authenticates a request signed with either active secret of the key id (rotation)', async () => {
    const authenticate = authenticator();
    for (const label of ['old', 'new']) {
      const result = await authenticate(input(signed(TEST_KEYS.signer, label)), policy, credentials);
      expect(result).toMatchObject({ ok: true, principal: { keyId: 'rk_signer', scheme: 'signature' } });
    }
  });

  it('refuses replays, foreign secrets, stale or future timestamps and altered requests', async () => {
    const authenticate = authenticator();
    const once = signed(TEST_KEYS.signer, 'new', { nonce: 'n-1' });
    expect((await authenticate(input(once), policy, credentials)).ok).toBe(true);
    const cases: [AuthenticationInput, string][] = [
      [input(once), 'signature_replayed_nonce'],
      [input(signed(TEST_KEYS.signer, 'retired')), 'signature_bad_signature'],
      [input(signed(TEST_KEYS.demo, 'new')), 'signature_unknown_key'],
      [input(signed(TEST_KEYS.signer, 'new', { createdMs: NOW_MS - 301_000 })), 'signature_expired'],
      [input(signed(TEST_KEYS.signer, 'new', { createdMs: NOW_MS + 301_000 })), 'signature_future'],
      [input(signed(TEST_KEYS.signer, 'new'), { method: 'PUT' }), 'signature_bad_signature'],
      [input(signed(TEST_KEYS.signer, 'new'), { url: '/v1/inference?x=1' }), 'signature_bad_signature'],
      [
        input(signed(TEST_KEYS.signer, 'new'), { url: '/v1/chat/completions?x=2' }),
        'signature_bad_signature',
      ],
      [input(signed(TEST_KEYS.signer, 'new'), { body: Buffer.from('{}') }), 'signature_bad_digest'],
      [input({ 'signature-input': 'sig1=("@method");created=1' }), 'signature_missing_signature'],
      [input(signed(TEST_KEYS.disabled, 'old')), 'key_disabled'],
    ];
    for (const [request, reason] of cases) {
      const result = await authenticate(request, policy, credentials);
      expect(!result.ok && result.reason, reason).toBe(reason);
    }
  });

  it('names the key a refused signature claims when the policy has it, as a wrong bearer secret does', async () => {
    // The log line and the audit event (tenant included) of a failed signature must say whose key it was,
    // as they do for a wrong API key secret; a keyid the policy does not know is never echoed.
    const authenticate = authenticator();
    const once = signed(TEST_KEYS.signer, 'new', { nonce: 'n-2' });
    expect((await authenticate(input(once), policy, credentials)).ok).toBe(true);
    const cases: [AuthenticationInput, string, string | undefined][] = [
      [input(once), 'signature_replayed_nonce', 'rk_signer'],
      [input(signed(TEST_KEYS.signer, 'retired')), 'signature_bad_signature', 'rk_signer'],
      [
        input(signed(TEST_KEYS.signer, 'new', { createdMs: NOW_MS - 301_000 })),
        'signature_expired',
        'rk_signer',
      ],
      [input(signed(TEST_KEYS.demo, 'new')), 'signature_unknown_key', 'rk_demo01'],
      [input(signed('rk_nobody', 'new')), 'signature_unknown_key', undefined],
    ];
    for (const [request, reason, keyId] of cases) {
      expect(await authenticate(request, policy, credentials)).toEqual({ ok: false, reason, keyId });
    }
  });

  it('refuses a request carrying both a bearer key and a signature', async () => {
    const headers = {
      ...signed(TEST_KEYS.signer, 'new'),
      authorization: `Bearer ${testApiKey('rk_demo01')}`,
    };
    const result = await authenticator()(input(headers), policy, credentials);
    expect(!result.ok && result.reason).toBe('ambiguous_credentials');
  });
});
