import { RouterError } from '@api-router/errors';
import { describe, expect, it } from 'vitest';
import { idempotencyKeyOf } from './idempotency-key.js';

const headers = (key?: string) => new Headers(key === undefined ? {} : { 'idempotency-key': key });
const refusal = (call: () => unknown) => {
  try {
    call();
  } catch (error: unknown) {
    return error instanceof RouterError ? `${error.code}: ${error.message}` : error;
  }
  return undefined;
};

describe('idempotencyKeyOf', () => {
  it('takes the field, else the header, else none', () => {
    expect(idempotencyKeyOf('from-field', headers())).toBe('from-field');
    expect(idempotencyKeyOf('', headers('from-header'))).toBe('from-header');
    expect(idempotencyKeyOf('same', headers('same'))).toBe('same');
    expect(idempotencyKeyOf('', headers())).toBeUndefined();
  });

  it('accepts 1-128 printable ASCII characters with inner spaces', () => {
    const printable = Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i)).join(
      '',
    );
    expect(idempotencyKeyOf(printable, headers())).toBe(printable);
    expect(idempotencyKeyOf('a', headers())).toBe('a');
    expect(idempotencyKeyOf('ticket 42 {retry}', headers())).toBe('ticket 42 {retry}');
    expect(idempotencyKeyOf('k'.repeat(128), headers('k'.repeat(128)))).toBe('k'.repeat(128));
  });

  it('refuses the same malformed keys in the field and in the header', () => {
    for (const bad of ['k'.repeat(129), ' lead', 'trail ', ' ', 'tab\tkey', 'clé', 'nul\u0000', '\u007f']) {
      expect(refusal(() => idempotencyKeyOf(bad, headers()))).toMatch(
        /^invalid_request: idempotency_key must be 1-128 printable ASCII/,
      );
    }
    for (const bad of ['k'.repeat(129), 'tab\tkey', '']) {
      expect(refusal(() => idempotencyKeyOf('', headers(bad)))).toMatch(
        /^invalid_request: the Idempotency-Key header must be 1-128 printable ASCII/,
      );
    }
  });

  it('refuses a field and a header that differ', () => {
    expect(refusal(() => idempotencyKeyOf('key-a', headers('key-b')))).toMatch(
      /^invalid_request: idempotency_key and the Idempotency-Key header differ/,
    );
    expect(refusal(() => idempotencyKeyOf('Key-A', headers('key-a')))).toMatch(/differ/);
  });
});
