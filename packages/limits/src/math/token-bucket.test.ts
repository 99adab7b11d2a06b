import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BUCKET_SCALE,
  adjustBucketLevel,
  bucketRemainingUnits,
  bucketResetAtMs,
  ceilDiv,
  evaluateBucket,
  refillBucket,
  type BucketLimits,
} from './token-bucket.js';

const T0 = 1_700_000_000_000;
const limits: BucketLimits = { ratePerMinute: 60, burst: 10 };

const limitsArbitrary = fc.record({
  ratePerMinute: fc.integer({ min: 1, max: 1_000_000 }),
  burst: fc.integer({ min: 1, max: 1_000_000 }),
});

describe('refillBucket', () => {
  it('starts a missing bucket full', () => {
    expect(refillBucket(undefined, limits, T0)).toEqual({ levelScaled: 10 * BUCKET_SCALE, updatedAtMs: T0 });
  });

  it('adds ratePerMinute scaled units per millisecond, exactly', () => {
    // 60 requests per minute is one per second: 500 ms give half a request.
    const refilled = refillBucket({ levelScaled: 0, updatedAtMs: T0 }, limits, T0 + 500);
    expect(refilled).toEqual({ levelScaled: BUCKET_SCALE / 2, updatedAtMs: T0 + 500 });
  });

  it('never fills beyond the burst, however long the bucket idled', () => {
    const refilled = refillBucket({ levelScaled: -5 * BUCKET_SCALE, updatedAtMs: 0 }, limits, T0);
    expect(refilled.levelScaled).toBe(10 * BUCKET_SCALE);
  });

  it('ignores a clock that went backwards and keeps the later update time', () => {
    const state = { levelScaled: 3, updatedAtMs: T0 };
    expect(refillBucket(state, limits, T0 - 1000)).toEqual(state);
  });

  it('cuts a level above a lowered burst', () => {
    const refilled = refillBucket(
      { levelScaled: 10 * BUCKET_SCALE, updatedAtMs: T0 },
      { ...limits, burst: 2 },
      T0,
    );
    expect(refilled.levelScaled).toBe(2 * BUCKET_SCALE);
  });

  it('refilling in steps equals refilling at once (no rounding drift)', () => {
    fc.assert(
      fc.property(
        limitsArbitrary,
        fc.integer({ min: -1_000_000, max: 1_000_000 }),
        fc.integer({ min: 0, max: 10_000_000 }),
        fc.integer({ min: 0, max: 10_000_000 }),
        (bucketLimits, levelUnits, firstMs, secondMs) => {
          const capacity = bucketLimits.burst * BUCKET_SCALE;
          const start = {
            levelScaled: Math.max(-capacity, Math.min(capacity, levelUnits * 7)),
            updatedAtMs: T0,
          };
          const stepped = refillBucket(
            refillBucket(start, bucketLimits, T0 + firstMs),
            bucketLimits,
            T0 + firstMs + secondMs,
          );
          expect(stepped).toEqual(refillBucket(start, bucketLimits, T0 + firstMs + secondMs));
        },
      ),
    );
  });
});

describe('evaluateBucket', () => {
  it('allows when the level covers the cost', () => {
    expect(evaluateBucket(BUCKET_SCALE, 1, limits)).toEqual({ allowed: true, retryAfterMs: 0 });
  });

  it('never allows a cost above the burst, and says waiting cannot help', () => {
    expect(evaluateBucket(10 * BUCKET_SCALE, 11, limits)).toEqual({ allowed: false, retryAfterMs: null });
  });

  it('retryAfterMs is the exact wait: enough then, not enough a millisecond earlier', () => {
    fc.assert(
      fc.property(
        limitsArbitrary,
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        (bucketLimits, rawLevel, rawCost) => {
          const capacity = bucketLimits.burst * BUCKET_SCALE;
          const levelScaled = (rawLevel * 13) % (capacity + 1);
          const cost = rawCost % (bucketLimits.burst + 1);
          const verdict = evaluateBucket(levelScaled, cost, bucketLimits);
          if (verdict.allowed) return;
          const waitMs = verdict.retryAfterMs!;
          const at = (ms: number): number =>
            refillBucket({ levelScaled, updatedAtMs: T0 }, bucketLimits, T0 + ms).levelScaled;
          expect(at(waitMs)).toBeGreaterThanOrEqual(cost * BUCKET_SCALE);
          expect(at(waitMs - 1)).toBeLessThan(cost * BUCKET_SCALE);
        },
      ),
    );
  });
});

describe('reporting and adjusting', () => {
  it('reports whole units and never a negative remainder', () => {
    expect(bucketRemainingUnits(BUCKET_SCALE * 2 + 1)).toBe(2);
    expect(bucketRemainingUnits(-1)).toBe(0);
  });

  it('resets when the bucket is full again', () => {
    expect(bucketResetAtMs(10 * BUCKET_SCALE, limits, T0)).toBe(T0);
    expect(bucketResetAtMs(9 * BUCKET_SCALE, limits, T0)).toBe(T0 + 1000);
  });

  it('refunds never overfill and charges leave at most one bucket of debt', () => {
    expect(adjustBucketLevel(9 * BUCKET_SCALE, 5, limits)).toBe(10 * BUCKET_SCALE);
    expect(adjustBucketLevel(0, -25, limits)).toBe(-10 * BUCKET_SCALE);
    expect(adjustBucketLevel(5 * BUCKET_SCALE, -2, limits)).toBe(3 * BUCKET_SCALE);
  });

  it('ceilDiv rounds up', () => {
    expect([ceilDiv(0, 3), ceilDiv(1, 3), ceilDiv(3, 3), ceilDiv(4, 3)]).toEqual([0, 1, 1, 2]);
  });
});
