import { describe, expect, it } from 'vitest';
import { backoffDelayMs, DEFAULT_BACKOFF_POLICY } from './backoff-policy.js';

describe('backoffDelayMs', () => {
  it('doubles from the initial delay up to the cap', () => {
    const policy = { ...DEFAULT_BACKOFF_POLICY, jitter: 0 };
    expect([1, 2, 3, 4, 10, 20, 1000].map((attempt) => backoffDelayMs(attempt, policy, () => 0))).toEqual([
      100, 200, 400, 800, 30_000, 30_000, 30_000,
    ]);
  });

  it('takes at most the jitter fraction off', () => {
    expect(backoffDelayMs(1, DEFAULT_BACKOFF_POLICY, () => 0)).toBe(100);
    expect(backoffDelayMs(1, DEFAULT_BACKOFF_POLICY, () => 0.999999)).toBe(80);
  });
});
