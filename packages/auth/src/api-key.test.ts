import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_API_KEY_LENGTH, generateApiKey, hashApiKey, parseApiKey, verifyApiKey } from './api-key.js';

describe('generateApiKey', () => {
  it('makes "<publicId>.<43 base64url chars>" and stores the sha-256 of the whole string', () => {
    const generated = generateApiKey('rk_demo01');
    expect(generated.publicId).toBe('rk_demo01');
    expect(generated.key).toMatch(/^rk_demo01\.[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(generated.key.split('.')[1]!, 'base64url')).toHaveLength(32);
    expect(generated.secretSha256Hex).toBe(createHash('sha256').update(generated.key).digest('hex'));
  });

  it('generates a valid public id when none is given, and fresh secrets every time', () => {
    const first = generateApiKey();
    const second = generateApiKey();
    expect(first.publicId).toMatch(/^rk_[a-z0-9]{12}$/);
    expect(parseApiKey(first.key)).toBe(first.publicId);
    expect(first.key).not.toBe(second.key);
  });

  it('refuses a public id outside the pattern', () => {
    expect(() => generateApiKey('demo01')).toThrow(RangeError);
    expect(() => generateApiKey('rk_ABCD')).toThrow(RangeError);
    expect(() => generateApiKey(`rk_${'a'.repeat(33)}`)).toThrow(RangeError);
  });
});

describe('parseApiKey', () => {
  it('returns the public id of a well-formed key', () => {
    const { key } = generateApiKey('rk_abcd');
    expect(parseApiKey(key)).toBe('rk_abcd');
  });

  it.each([
    ['empty', ''],
    ['no dot', 'rk_abcd'],
    ['bad prefix', `sk_abcd.${'A'.repeat(43)}`],
    ['short secret', `rk_abcd.${'A'.repeat(42)}`],
    ['long secret', `rk_abcd.${'A'.repeat(44)}`],
    ['padding', `rk_abcd.${'A'.repeat(42)}=`],
    ['two dots', `rk_abcd.${'A'.repeat(20)}.${'A'.repeat(22)}`],
    ['too long', `rk_abcd.${'A'.repeat(MAX_API_KEY_LENGTH)}`],
    ['Bearer prefix', `Bearer rk_abcd.${'A'.repeat(43)}`],
  ])('returns undefined for %s', (_name, text) => {
    expect(parseApiKey(text)).toBeUndefined();
  });

  it('returns undefined for non-strings', () => {
    expect(parseApiKey(undefined)).toBeUndefined();
    expect(parseApiKey(42)).toBeUndefined();
    expect(parseApiKey(['rk_abcd'])).toBeUndefined();
  });

  it('never throws and only accepts the key shape (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        const publicId = parseApiKey(text);
        if (publicId !== undefined) {
          expect(text).toMatch(/^rk_[a-z0-9]{4,32}\.[A-Za-z0-9_-]{43}$/);
          expect(text.startsWith(`${publicId}.`)).toBe(true);
        }
      }),
    );
  });
});

describe('verifyApiKey', () => {
  it('accepts the key whose hash is stored and refuses any other', () => {
    const { key, secretSha256Hex } = generateApiKey('rk_abcd');
    const stored = Buffer.from(secretSha256Hex, 'hex');
    expect(verifyApiKey(key, stored)).toBe(true);
    expect(verifyApiKey(generateApiKey('rk_abcd').key, stored)).toBe(false);
    expect(verifyApiKey(`${key}x`, stored)).toBe(false);
  });

  it("matches exactly when the stored bytes are the key's sha-256, whatever byte differs (property)", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 120 }),
        fc.nat({ max: 31 }),
        fc.integer({ min: 1, max: 255 }),
        (key, position, flip) => {
          const stored = createHash('sha256').update(key, 'utf8').digest();
          expect(verifyApiKey(key, stored)).toBe(true);
          const altered = Buffer.from(stored);
          altered[position] = altered[position]! ^ flip;
          expect(verifyApiKey(key, altered)).toBe(false);
        },
      ),
    );
  });

  it('never matches a stored hash of the wrong length', () => {
    const { key } = generateApiKey('rk_abcd');
    expect(verifyApiKey(key, hashApiKey(key).subarray(0, 31))).toBe(false);
    expect(verifyApiKey(key, new Uint8Array())).toBe(false);
  });
});
