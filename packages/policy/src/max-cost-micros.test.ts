import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { maxCostMicros } from './max-cost-micros.js';

const price = (input: number, output: number) => ({
  inputMicrosPerMillion: input,
  outputMicrosPerMillion: output,
});

describe('maxCostMicros', () => {
  it('computes the cost in micros, rounding the exact sum up once', () => {
    // 1000 input tokens at $0.50/M + 1024 output tokens at $1.50/M = 500 + 1536 micros.
    expect(
      maxCostMicros({ price: price(500_000, 1_500_000), inputTokens: 1000, maxOutputTokens: 1024 }),
    ).toBe(2036);
    // 1 token at 1 micro per million tokens is 10^-6 micros: still a whole micro reserved.
    expect(maxCostMicros({ price: price(1, 0), inputTokens: 1, maxOutputTokens: 0 })).toBe(1);
    // Two fractions that add up to a whole are not rounded twice.
    expect(maxCostMicros({ price: price(500_000, 500_000), inputTokens: 1, maxOutputTokens: 1 })).toBe(1);
    expect(maxCostMicros({ price: price(0, 0), inputTokens: 10_000, maxOutputTokens: 10_000 })).toBe(0);
    expect(maxCostMicros({ price: price(2_000_000, 3_000_000), inputTokens: 0, maxOutputTokens: 0 })).toBe(0);
  });

  it('is never below the exact rational cost and at most 1 micro above it', () => {
    const count = fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 100_000_000 }));
    const perMillion = fc.oneof(
      fc.integer({ min: 0, max: 10_000_000 }),
      fc.integer({ min: 0, max: 1_000_000_000_000 }),
    );
    fc.assert(
      fc.property(count, count, perMillion, perMillion, (inputTokens, maxOutputTokens, input, output) => {
        const cost = maxCostMicros({ price: price(input, output), inputTokens, maxOutputTokens });
        expect(Number.isSafeInteger(cost)).toBe(true);
        // exact cost = numerator / 10^6 micros; compare in integers.
        const numerator = BigInt(inputTokens) * BigInt(input) + BigInt(maxOutputTokens) * BigInt(output);
        const scaled = BigInt(cost) * 1_000_000n;
        expect(scaled >= numerator).toBe(true);
        expect(scaled - numerator < 1_000_000n).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('stays exact beyond 2^53 intermediate products', () => {
    // 10^8 tokens × 10^12 micros per million = 10^20 / 10^6 = 10^14 micros, plus one unit of remainder.
    const cost = maxCostMicros({
      price: price(1_000_000_000_000, 1),
      inputTokens: 100_000_000,
      maxOutputTokens: 1,
    });
    expect(cost).toBe(100_000_000_000_001);
  });

  it.each([
    ['negative tokens', { price: price(1, 1), inputTokens: -1, maxOutputTokens: 0 }],
    ['fractional tokens', { price: price(1, 1), inputTokens: 0, maxOutputTokens: 1.5 }],
    ['NaN price', { price: price(Number.NaN, 1), inputTokens: 1, maxOutputTokens: 1 }],
    ['a cost above 2^53', { price: price(1e15, 0), inputTokens: 1e10, maxOutputTokens: 0 }],
  ])('throws a RangeError for %s', (_name, input) => {
    expect(() => maxCostMicros(input)).toThrow(RangeError);
  });
});
