import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RouterError } from '@api-router/errors';
import { exceedsDepth, MAX_JSON_DEPTH, parseJsonBody } from './json-body.js';

const bytes = (text: string): Uint8Array => Buffer.from(text, 'utf8');

function errorOf(run: () => unknown): RouterError {
  try {
    run();
  } catch (error: unknown) {
    if (error instanceof RouterError) return error;
    throw error;
  }
  throw new Error('expected a RouterError');
}

describe('parseJsonBody', () => {
  it('parses ordinary JSON', () => {
    expect(parseJsonBody(bytes('{"model":"m","messages":[{"role":"user","content":"hi"}]}'))).toEqual({
      model: 'm',
      messages: [{ role: 'user', content: 'hi' }],
    });
  });

  it('refuses __proto__ keys and constructor.prototype paths (prototype pollution)', () => {
    for (const text of ['{"__proto__":{"admin":true}}', '{"a":{"constructor":{"prototype":{"x":1}}}}']) {
      const error = errorOf(() => parseJsonBody(bytes(text)));
      expect(error.code).toBe('invalid_request');
      expect(error.message).toContain('forbidden property');
    }
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });

  it('refuses nesting deeper than the limit before parsing, accepts exactly the limit', () => {
    const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);
    expect(() => parseJsonBody(bytes(nested(MAX_JSON_DEPTH)))).not.toThrow();
    const error = errorOf(() => parseJsonBody(bytes(nested(MAX_JSON_DEPTH + 1))));
    expect(error.code).toBe('invalid_request');
    expect(error.message).toContain(`deeper than ${MAX_JSON_DEPTH}`);
    // A hostile body far deeper than JSON.parse's own recursion limit is refused just as cleanly.
    expect(errorOf(() => parseJsonBody(bytes('{"a":'.repeat(200_000)))).code).toBe('invalid_request');
  });

  it('does not count brackets inside strings, including after escaped quotes', () => {
    expect(exceedsDepth(bytes(JSON.stringify({ text: '[[[[[[' })), 2)).toBe(false);
    expect(exceedsDepth(bytes(JSON.stringify({ text: 'say \\"[[[[ "' })), 2)).toBe(false);
    expect(exceedsDepth(bytes('{"a":{"b":{}}}'), 2)).toBe(true);
  });

  it('reports malformed JSON without echoing it', () => {
    const error = errorOf(() => parseJsonBody(bytes('{"model": secret-value')));
    expect(error.code).toBe('invalid_request');
    expect(error.message).toBe('The body is not valid JSON.');
  });

  it('refuses bytes that are not UTF-8, accepts a byte order mark', () => {
    const latin1 = Buffer.from('{"user":"café"}', 'latin1');
    expect(errorOf(() => parseJsonBody(latin1)).message).toBe('The body is not valid UTF-8.');
    expect(parseJsonBody(bytes('\uFEFF{"user":"café"}'))).toEqual({ user: 'café' });
  });

  it('refuses numbers that would not reach the backend as written, whatever their form', () => {
    for (const text of [
      '{"seed":1e400}',
      '{"a":[-1E+309]}',
      '{"seed":9007199254740993}',
      '{"seed":-9223372036854775808}',
      '{"seed":1152921504606846976}', // 2^60, which JSON.stringify writes as 1152921504606847000
      '{"a":' + '9'.repeat(400) + '.5}',
    ]) {
      expect(errorOf(() => parseJsonBody(bytes(text))).message, text).toMatch(
        /^The JSON body contains a number/,
      );
    }
    // Exact: short literals, fractions (a backend reads them as doubles too), integers written back as sent.
    expect(
      parseJsonBody(
        bytes('{"a":-0,"b":100.0,"c":1e-400,"d":0.10000000000000000555,"e":9007199254740994,"f":"1e400"}'),
      ),
    ).toEqual({ a: -0, b: 100, c: 0, d: 0.1, e: 2 ** 53 + 2, f: '1e400' });
    // A nested integer goes as JSON.stringify writes it (a generated tool schema's int64 bound).
    expect(parseJsonBody(bytes('{"tools":[{"maximum":9223372036854775807}]}'))).toEqual({
      tools: [{ maximum: 2 ** 63 }],
    });
    // A malformed literal is malformed JSON, not a number problem.
    expect(errorOf(() => parseJsonBody(bytes('{"a":1e400e}'))).message).toBe('The body is not valid JSON.');
  });
});

describe('parseJsonBody on numbers of any length', () => {
  // Fractions and nested integers without an exponent are only converted past 308 characters (shorter ones
  // cannot leave a double's range): the verdict must be the one a conversion of every literal gives.
  const digits = (length: number, seed: number): string =>
    Array.from({ length }, (_, index) => String((seed + index * 7) % 10)).join('');
  it('refuses exactly the fractions and nested integers that overflow a double, at every length', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 0, max: 420 }),
        fc.option(fc.integer({ min: 1, max: 30 }), { nil: undefined }),
        fc.boolean(),
        fc.integer({ min: 0, max: 9 }),
        (negative, lead, length, fractionDigits, nested, seed) => {
          const literal =
            (negative ? '-' : '') +
            String(lead) +
            digits(length, seed) +
            (fractionDigits === undefined ? '' : `.${digits(fractionDigits, seed + 1)}`);
          // A top-level integer is held to more (written back exactly); nest it or give it a fraction.
          const text = nested || fractionDigits === undefined ? `{"a":[${literal}]}` : `{"a":${literal}}`;
          const finite = Number.isFinite(Number(literal));
          if (finite) expect(() => parseJsonBody(bytes(text)), literal).not.toThrow();
          else expect(errorOf(() => parseJsonBody(bytes(text))).message).toMatch(/contains a number/);
        },
      ),
    );
  });

  it('draws the line at a double’s range, not at a length', () => {
    expect(parseJsonBody(bytes(`{"a":[${'9'.repeat(308)}]}`))).toEqual({ a: [Number('9'.repeat(308))] });
    expect(parseJsonBody(bytes(`{"a":1${'0'.repeat(308)}.5}`))).toEqual({ a: 1e308 });
    for (const text of [`{"a":[${'9'.repeat(309)}]}`, `{"a":-${'9'.repeat(309)}.0}`]) {
      expect(errorOf(() => parseJsonBody(bytes(text))).message).toMatch(/contains a number/);
    }
  });
});
