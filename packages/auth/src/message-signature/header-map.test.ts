import { describe, expect, it } from 'vitest';
import { getFieldValue } from './header-map.js';

describe('getFieldValue', () => {
  it('matches names case-insensitively and combines repeated lines as RFC 9421 §2.1 does', () => {
    const headers = { 'X-Multi': ['  a ', 'b  '], 'x-multi': 'c', Other: undefined, 'content-length': 18 };
    expect(getFieldValue(headers, 'x-multi')).toBe('a, b, c');
    expect(getFieldValue(headers, 'content-length')).toBe('18');
    expect(getFieldValue(headers, 'other')).toBeUndefined();
    expect(getFieldValue(headers, 'absent')).toBeUndefined();
  });

  it('replaces obsolete line folding with a space', () => {
    expect(getFieldValue({ folded: 'one\r\n  two' }, 'folded')).toBe('one two');
  });

  it('strips only SP and HTAB around a line: a trailing NBSP (obs-text Node passes on) is kept', () => {
    // JavaScript's trim() also strips U+00A0; the value would then sign as if the byte were not there.
    expect(getFieldValue({ x: ' \tabc\u00a0' }, 'x')).toBe('abc\u00a0');
    expect(getFieldValue({ x: ['\u00a0a', 'b\t '] }, 'x')).toBe('\u00a0a, b');
  });

  it('keeps an empty field as the empty string', () => {
    expect(getFieldValue({ empty: '' }, 'empty')).toBe('');
  });
});
