import { describe, expect, it } from 'vitest';
import { MAX_COVERED_COMPONENTS } from './covered-components.js';
import { signRequest } from './sign-request.js';
import type { SignableRequest } from './signable-request.js';
import { verifyRequest } from './verify-request.js';
import {
  DEFAULT_COMPONENTS,
  NOW_SECONDS,
  REQUEST,
  SECRET,
  options,
  signWithParameters,
} from './verify-request.test-support.js';

// Every covered field is looked up among all of the request's header lines before any key is known: a
// signature covering a thousand fields of a request carrying a thousand lines cost ~140 ms of CPU, unsigned.

/** REQUEST with `count` extra fields `x-f0`…, and the default components plus those fields. */
function withFields(count: number): { request: SignableRequest; components: string[] } {
  const headers: Record<string, string> = { ...(REQUEST.headers as Record<string, string>) };
  const names: string[] = [];
  for (let index = 0; index < count; index += 1) {
    headers[`x-f${index}`] = String(index);
    names.push(`x-f${index}`);
  }
  return {
    request: { ...REQUEST, headers },
    components: [...DEFAULT_COMPONENTS, ...names],
  };
}

const PARAMETERS = { created: NOW_SECONDS, keyid: 'partner-1', nonce: 'n-1' };

describe('the number of covered components', () => {
  it('refuses as malformed, before any key is looked up, a signature covering more than the limit', async () => {
    const { request, components } = withFields(200);
    const signed = signWithParameters(request, components, PARAMETERS);
    let lookups = 0;
    const result = await verifyRequest(
      signed,
      options({
        resolveSecrets: () => {
          lookups += 1;
          return [SECRET];
        },
      }),
    );
    expect(result).toEqual({ ok: false, reason: 'malformed' });
    expect(lookups).toBe(0);
  });

  it('accepts a signature covering exactly the limit', async () => {
    const { request, components } = withFields(MAX_COVERED_COMPONENTS - DEFAULT_COMPONENTS.length);
    expect(components).toHaveLength(MAX_COVERED_COMPONENTS);
    const signed = signWithParameters(request, components, PARAMETERS);
    await expect(verifyRequest(signed, options())).resolves.toMatchObject({ ok: true, keyId: 'partner-1' });
  });

  it('refuses as malformed one more than the limit', async () => {
    const { request, components } = withFields(MAX_COVERED_COMPONENTS - DEFAULT_COMPONENTS.length + 1);
    const signed = signWithParameters(request, components, PARAMETERS);
    await expect(verifyRequest(signed, options())).resolves.toEqual({ ok: false, reason: 'malformed' });
  });

  it('signRequest will not make a signature the verifier refuses for its size', () => {
    const { request, components } = withFields(MAX_COVERED_COMPONENTS);
    expect(() =>
      signRequest(request, { keyId: 'partner-1', secret: SECRET, created: NOW_SECONDS, components }),
    ).toThrow(TypeError);
  });
});
