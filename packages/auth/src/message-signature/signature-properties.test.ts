import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMemoryNonceStore } from '../nonce-store/memory-nonce-store.js';
import { signRequest } from './sign-request.js';
import type { SignableRequest } from './signable-request.js';
import { type VerifyRequestOptions, type VerifyResult, verifyRequest } from './verify-request.js';

// Property tests for signature canonicalisation: every validly signed request verifies, and a single
// changed byte in anything the signature covers never does.

const NOW_SECONDS = 1_750_000_000;
const COMPONENTS = ['@method', '@path', '@query', 'content-digest', 'content-type'];
const PRINTABLE = [...Array.from({ length: 0x7f - 0x21 }, (_, index) => String.fromCharCode(0x21 + index))];
const PATH_CHARS = [..."abcXYZ019-._~%!$&'()*+,;=:@/"];
const QUERY_CHARS = [...PATH_CHARS, '?'];
const NONCE_CHARS = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_'];
const TOKEN_CHARS = [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~"];

const stringOf = (chars: string[], minLength: number, maxLength: number) =>
  fc.array(fc.constantFrom(...chars), { minLength, maxLength }).map((parts) => parts.join(''));

interface Case {
  readonly method: string;
  readonly path: string;
  readonly query: string | undefined;
  readonly contentType: string;
  readonly body: Uint8Array;
  readonly secret: Uint8Array;
  readonly created: number;
  readonly nonce: string;
}

const caseArbitrary: fc.Arbitrary<Case> = fc.record({
  method: stringOf(TOKEN_CHARS, 1, 10),
  path: stringOf(PATH_CHARS, 0, 30).map((path) => `/${path}`),
  query: fc.option(stringOf(QUERY_CHARS, 0, 30), { nil: undefined }),
  // No leading/trailing whitespace: field values are trimmed, so edge whitespace is not signed.
  contentType: fc
    .tuple(fc.constantFrom(...PRINTABLE), stringOf([...PRINTABLE, ' '], 0, 20), fc.constantFrom(...PRINTABLE))
    .map(([first, middle, last]) => `${first}${middle}${last}`),
  body: fc.uint8Array({ maxLength: 200 }),
  secret: fc.uint8Array({ minLength: 16, maxLength: 64 }),
  created: fc.integer({ min: NOW_SECONDS - 300, max: NOW_SECONDS + 300 }),
  nonce: stringOf(NONCE_CHARS, 1, 32),
});

function toRequest(testCase: Case): SignableRequest {
  const url = testCase.query === undefined ? testCase.path : `${testCase.path}?${testCase.query}`;
  return {
    method: testCase.method,
    url,
    headers: { 'content-type': testCase.contentType },
    body: testCase.body,
  };
}

function signed(testCase: Case): SignableRequest {
  const request = toRequest(testCase);
  const headers = signRequest(request, {
    keyId: 'k1',
    secret: testCase.secret,
    created: testCase.created,
    nonce: testCase.nonce,
    components: COMPONENTS,
  });
  return { ...request, headers: { ...request.headers, ...headers } };
}

function verify(request: SignableRequest, testCase: Case): Promise<VerifyResult> {
  const options: VerifyRequestOptions = {
    resolveSecrets: (keyId) => (keyId === 'k1' ? [testCase.secret] : []),
    nowMs: NOW_SECONDS * 1000,
    nonceStore: createMemoryNonceStore({ clock: { now: () => NOW_SECONDS * 1000 }, maxEntries: 10 }),
  };
  return verifyRequest(request, options);
}

/** `text` with the character at `index` (modulo length) replaced by a different printable character. */
function changeCharacter(text: string, index: number, replacementSeed: number): string {
  const position = index % text.length;
  const current = text[position] ?? '';
  const candidates = PRINTABLE.filter((character) => character !== current);
  const replacement = candidates[replacementSeed % candidates.length] ?? '';
  return `${text.slice(0, position)}${replacement}${text.slice(position + 1)}`;
}

type Part = 'method' | 'url' | 'body' | 'content-type' | 'signature-input';

function mutate(request: SignableRequest, part: Part, index: number, seed: number): SignableRequest {
  const headers = request.headers as Record<string, string>;
  switch (part) {
    case 'method':
      return { ...request, method: changeCharacter(request.method, index, seed) };
    case 'url':
      return { ...request, url: changeCharacter(request.url, index, seed) };
    case 'content-type':
      return {
        ...request,
        headers: { ...headers, 'content-type': changeCharacter(headers['content-type']!, index, seed) },
      };
    case 'signature-input':
      return {
        ...request,
        headers: { ...headers, 'Signature-Input': changeCharacter(headers['Signature-Input']!, index, seed) },
      };
    case 'body': {
      const body = Uint8Array.from(request.body ?? []);
      if (body.length === 0) {
        return { ...request, body: Uint8Array.of(seed % 256) };
      }
      const position = index % body.length;
      body[position] = (body[position]! + 1 + (seed % 255)) % 256;
      return { ...request, body };
    }
  }
}

describe('signature properties', () => {
  it('a validly signed request always verifies', async () => {
    await fc.assert(
      fc.asyncProperty(caseArbitrary, async (testCase) => {
        await expect(verify(signed(testCase), testCase)).resolves.toEqual({
          ok: true,
          keyId: 'k1',
          label: 'sig1',
        });
      }),
      { numRuns: 100 },
    );
  });

  it('a single changed byte in a covered part never verifies', async () => {
    const parts: Part[] = ['method', 'url', 'body', 'content-type', 'signature-input'];
    await fc.assert(
      fc.asyncProperty(
        caseArbitrary,
        fc.constantFrom(...parts),
        fc.nat(),
        fc.nat(),
        async (testCase, part, index, seed) => {
          const result = await verify(mutate(signed(testCase), part, index, seed), testCase);
          expect(result.ok).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('changing created or the nonce alone never verifies', async () => {
    await fc.assert(
      fc.asyncProperty(
        caseArbitrary,
        fc.nat(),
        fc.nat(),
        fc.boolean(),
        async (testCase, index, seed, changeNonce) => {
          const request = signed(testCase);
          const headers = request.headers as Record<string, string>;
          const input = headers['Signature-Input']!;
          const pattern = changeNonce ? /nonce="([^"]*)"/ : /created=(\d+)/;
          const match = pattern.exec(input)!;
          const valueStart = match.index + match[0].indexOf(match[1]!);
          const position = valueStart + (index % match[1]!.length);
          const alphabet = changeNonce ? NONCE_CHARS : [...'0123456789'];
          const candidates = alphabet.filter((character) => character !== input[position]);
          const changed = `${input.slice(0, position)}${candidates[seed % candidates.length]!}${input.slice(position + 1)}`;
          const result = await verify(
            { ...request, headers: { ...headers, 'Signature-Input': changed } },
            testCase,
          );
          expect(result.ok).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });
});
