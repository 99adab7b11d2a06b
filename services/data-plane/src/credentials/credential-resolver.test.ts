import { describe, expect, it } from 'vitest';
import { buildTestPolicy, testSigningSecret } from '../testing/test-policy.test-support.js';
import { createCredentialResolver } from './credential-resolver.js';

const files = new Map<string, string>([['/run/secrets/next', `${testSigningSecret('next')}\n`]]);
const readFile = (path: string): Promise<Buffer> => {
  const content = files.get(path);
  return content === undefined
    ? Promise.reject(new Error(`ENOENT ${path}`))
    : Promise.resolve(Buffer.from(content));
};

describe('createCredentialResolver', () => {
  it('resolves backend credentials and signing secrets for exactly the policy it accepted', async () => {
    const resolver = createCredentialResolver({
      environment: new Map([
        ['MOCK_A_KEY', ' backend-token '],
        ['SIGNER_CURRENT', testSigningSecret('current')],
      ]),
      readFile,
    });
    const policy = buildTestPolicy({
      signingSecretRefs: { rk_signer: ['env:SIGNER_CURRENT', 'file:/run/secrets/next'] },
    });
    expect(await resolver.check(policy)).toBeUndefined();
    const credentials = resolver.credentialsFor(policy);
    expect(credentials?.backendTokens.get('mock-a')).toBe('backend-token');
    expect(credentials?.backendTokens.has('mock-b')).toBe(false);
    expect(credentials?.signingSecrets.get('rk_signer')).toEqual([
      Buffer.from(testSigningSecret('current'), 'base64'),
      Buffer.from(testSigningSecret('next'), 'base64'),
    ]);
    expect(credentials?.signingSecrets.has('rk_demo01')).toBe(false);
    expect(resolver.credentialsFor(buildTestPolicy())).toBeUndefined();
  });

  it('rejects a policy with an unresolvable reference, naming the owner and the reference but no value', async () => {
    const environment = new Map([
      ['MOCK_A_KEY', 'token'],
      ['SHORT', 'c2hvcnQ='],
      ['NOT_BASE64', 'this is not base64!'],
    ]);
    const resolver = createCredentialResolver({ environment, readFile });
    const cases: [Record<string, string[]>, string][] = [
      [{ rk_signer: ['env:MISSING'] }, 'API key "rk_signer": signing secret "env:MISSING" is not resolvable'],
      [{ rk_signer: ['file:/nope'] }, 'signing secret "file:/nope" is not resolvable: /nope does not exist'],
      [{ rk_signer: ['env:SHORT'] }, 'is shorter than 16 bytes'],
      [{ rk_signer: ['env:NOT_BASE64'] }, 'is not base64 text'],
    ];
    for (const [signingSecretRefs, expected] of cases) {
      const policy = buildTestPolicy({ signingSecretRefs });
      const reason = await resolver.check(policy);
      expect(reason).toContain(expected);
      expect(reason).not.toContain('this is not base64');
      expect(resolver.credentialsFor(policy)).toBeUndefined();
    }
    // Config and snapshot validation refuse a third secret already; the data plane does not rely on it.
    const policy = buildTestPolicy();
    const signer = {
      ...policy.apiKeysByPublicId.get('rk_signer')!,
      signingSecretRefs: ['env:A', 'env:B', 'env:C'],
    };
    const tampered = { ...policy, apiKeysByPublicId: new Map([['rk_signer', signer]]) };
    expect(await resolver.check(tampered)).toContain('3 signing_secret_refs, at most 2');
    // A token that no HTTP header can carry (a line break, a character above U+00FF) would fail every call.
    for (const token of ['first-line\nsecond-line', 'caf\u00e9-\u20ac']) {
      const unusable = createCredentialResolver({ environment: new Map([['MOCK_A_KEY', token]]), readFile });
      const reason = await unusable.check(buildTestPolicy());
      expect(reason).toBe(
        'backend "mock-a": credentialRef "env:MOCK_A_KEY" cannot be sent in an HTTP header (a line break or another character outside Latin-1 text)',
      );
    }
    const withoutBackendKey = createCredentialResolver({ environment: new Map(), readFile });
    expect(await withoutBackendKey.check(buildTestPolicy())).toBe(
      'backend "mock-a": credentialRef "env:MOCK_A_KEY" is not resolvable: environment variable MOCK_A_KEY is not set on this data plane',
    );
  });
});
