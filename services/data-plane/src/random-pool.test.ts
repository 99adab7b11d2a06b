import { describe, expect, it } from 'vitest';
import { pooledRandomBytes } from './random-pool.js';

describe('pooledRandomBytes', () => {
  it('returns buffers of the asked size that the caller owns', () => {
    const random = pooledRandomBytes(64);
    const first = random(10);
    expect(first).toHaveLength(10);
    const copy = Buffer.from(first);
    random(10);
    expect(first.equals(copy)).toBe(true);
  });

  it('never hands out the same bytes twice, across refills', () => {
    const random = pooledRandomBytes(64);
    const seen = new Set<string>();
    for (let index = 0; index < 1000; index++) {
      const hex = random(16).toString('hex');
      expect(seen.has(hex)).toBe(false);
      seen.add(hex);
    }
  });

  it('serves sizes larger than the pool directly', () => {
    const random = pooledRandomBytes(16);
    expect(random(100)).toHaveLength(100);
    expect(random(8)).toHaveLength(8);
  });

  it('is not all zeros (the pool is filled before the first use)', () => {
    const random = pooledRandomBytes(32);
    expect(random(32).some((byte) => byte !== 0)).toBe(true);
  });
});
