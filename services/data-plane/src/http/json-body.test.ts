import { describe, expect, it } from 'vitest';
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
});
