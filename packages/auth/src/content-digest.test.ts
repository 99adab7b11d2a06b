import { describe, expect, it } from 'vitest';
import { checkContentDigest, computeContentDigest, parseContentDigest } from './content-digest.js';

// RFC 9530 §2 and Appendix B: the body {"hello": "world"}.
const HELLO = Buffer.from('{"hello": "world"}');
const HELLO_SHA256 = 'sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:';
const HELLO_SHA512 =
  'sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:';
// RFC 9530 Appendix B.2 (an empty representation).
const EMPTY_SHA256 = 'sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:';

describe('computeContentDigest', () => {
  it('reproduces the RFC 9530 sha-256 and sha-512 values', () => {
    expect(computeContentDigest(HELLO)).toBe(HELLO_SHA256);
    expect(computeContentDigest(HELLO, ['sha-512'])).toBe(HELLO_SHA512);
    expect(computeContentDigest(HELLO, ['sha-256', 'sha-512'])).toBe(`${HELLO_SHA256}, ${HELLO_SHA512}`);
    expect(computeContentDigest(new Uint8Array())).toBe(EMPTY_SHA256);
  });
});

describe('parseContentDigest', () => {
  it('reads known algorithms and skips unknown ones', () => {
    const digests = parseContentDigest(`unixsum=:AAAA:, ${HELLO_SHA512}, ${HELLO_SHA256}`);
    expect([...(digests?.keys() ?? [])]).toEqual(['sha-512', 'sha-256']);
    expect(digests?.get('sha-256')).toHaveLength(32);
  });

  it.each([
    ['not a dictionary', 'sha-256'],
    ['a token, not bytes', 'sha-256=abc'],
    ['a string, not bytes', 'sha-256="X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE="'],
    ['unterminated bytes', 'sha-256=:X48E9q'],
    ['wrong digest length', 'sha-256=:AAAA:'],
    ['an inner list', 'sha-256=(:AAAA:)'],
    ['too long', `${HELLO_SHA256}, x=${'1'.repeat(1100)}`],
  ])('returns undefined for %s', (_name, value) => {
    expect(parseContentDigest(value)).toBeUndefined();
  });
});

describe('checkContentDigest', () => {
  it('accepts matching digests, one or both algorithms', () => {
    expect(checkContentDigest(HELLO_SHA256, HELLO)).toBe('ok');
    expect(checkContentDigest(`${HELLO_SHA256}, ${HELLO_SHA512}`, HELLO)).toBe('ok');
    expect(checkContentDigest(EMPTY_SHA256, new Uint8Array())).toBe('ok');
  });

  it('requires sha-256 even when sha-512 matches', () => {
    expect(checkContentDigest(HELLO_SHA512, HELLO)).toBe('missing_sha256');
  });

  it('refuses a body that differs in one byte, and a second digest that does not match', () => {
    expect(checkContentDigest(HELLO_SHA256, Buffer.from('{"hello": "World"}'))).toBe('mismatch');
    const otherSha512 = computeContentDigest(Buffer.from('other'), ['sha-512']);
    expect(checkContentDigest(`${HELLO_SHA256}, ${otherSha512}`, HELLO)).toBe('mismatch');
  });

  it('reports a malformed field', () => {
    expect(checkContentDigest('sha-256=', HELLO)).toBe('malformed');
  });
});
