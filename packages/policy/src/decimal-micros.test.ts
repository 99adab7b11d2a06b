import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decimalToMicros, formatMicros } from './decimal-micros.js';

const MAX = 1_000_000_000_000_000;

describe('decimalToMicros', () => {
  it.each<[string | number, number]>([
    ['5.00', 5_000_000],
    ['5', 5_000_000],
    ['5.', 5_000_000],
    ['0.000001', 1],
    ['0.1', 100_000],
    ['1000.50', 1_000_500_000],
    ['0.250000000', 250_000],
    ['007.5', 7_500_000],
    [0.1, 100_000],
    [0.3, 300_000],
    [2.675, 2_675_000],
    [1e-6, 1],
    [123_456_789.123456, 123_456_789_123_456],
    [0, 0],
  ])('converts %j to %d micros', (value, micros) => {
    expect(decimalToMicros(value, MAX)).toEqual({ ok: true, micros });
  });

  it.each<[string | number, RegExp]>([
    ['-1', /non-negative decimal/],
    ['1,000', /non-negative decimal/],
    [' 1', /non-negative decimal/],
    ['1e3', /non-negative decimal/],
    ['.5', /non-negative decimal/],
    ['', /non-negative decimal/],
    ['0.0000001', /more than 6 decimal places/],
    [1e-7, /more than 6 decimal places/],
    [0.1 + 0.2, /more than 6 decimal places/],
    [-0.5, /must not be negative/],
    [Number.NaN, /finite/],
    [Number.POSITIVE_INFINITY, /finite/],
    [1e21, /at most 1000000000/],
    ['1000000000.000001', /at most 1000000000$/],
  ])('refuses %j', (value, problem) => {
    const result = decimalToMicros(value, MAX);
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.problem).toMatch(problem);
  });

  it('round-trips every micro amount through its decimal text, and through a number when it has one', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX }), (micros) => {
        const text = formatMicros(micros);
        expect(decimalToMicros(text, MAX)).toEqual({ ok: true, micros });
        // Up to 15 significant digits, a decimal's shortest number text is the decimal itself.
        if (text.replace('.', '').replace(/^0+/, '').length <= 15) {
          expect(decimalToMicros(Number(text), MAX)).toEqual({ ok: true, micros });
        }
      }),
    );
  });
});

describe('formatMicros', () => {
  it('writes micros as a decimal without trailing zeros', () => {
    expect(formatMicros(5_000_000)).toBe('5');
    expect(formatMicros(1_500_000)).toBe('1.5');
    expect(formatMicros(1)).toBe('0.000001');
    expect(formatMicros(0)).toBe('0');
  });
});
