import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { periodEndMs, periodStartMs } from '../src/math/budget-period.js';
import {
  adjustBucketLevel,
  bucketRemainingUnits,
  bucketResetAtMs,
  evaluateBucket,
  type BucketLimits,
} from '../src/math/token-bucket.js';
import { LUA_LIBRARY } from '../src/redis/lua-library.js';
import { createRedisFixture, type RedisFixture } from './redis-fixture.js';

// The Lua/TS parity rule, checked function by function: each Lua twin in the library, run by the real Redis,
// returns exactly what the TS function returns. (The differential test checks whole stores; this one pins a
// drift to the function that drifted, and reaches inputs the store-level test rarely builds.)

const PERIODS_SCRIPT = `${LUA_LIBRARY}
local out = {}
for i = 1, #ARGV do
  local now = tonumber(ARGV[i])
  local day = period_start('day', now)
  local month = period_start('month', now)
  out[#out + 1] = day
  out[#out + 1] = period_end('day', day)
  out[#out + 1] = month
  out[#out + 1] = period_end('month', month)
end
return out`;

const BUCKET_SCRIPT = `${LUA_LIBRARY}
local out = {}
for i = 1, #ARGV, 6 do
  local level, cost, rate, burst, delta, now = tonumber(ARGV[i]), tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]),
    tonumber(ARGV[i + 3]), tonumber(ARGV[i + 4]), tonumber(ARGV[i + 5])
  local allowed, retry = bucket_evaluate(level, cost, rate, burst)
  out[#out + 1] = allowed and 1 or 0
  out[#out + 1] = retry
  out[#out + 1] = bucket_remaining(level)
  out[#out + 1] = bucket_reset_at(level, rate, burst, now)
  -- As a string: Lua numbers above 2^53 would not survive an integer reply unchanged, strings do.
  out[#out + 1] = fmt(bucket_adjust(level, delta, burst))
end
return out`;

describe('Lua library functions agree with their TS twins', () => {
  let fixture: RedisFixture;
  let redis: Redis;

  beforeAll(() => {
    fixture = createRedisFixture('lua-parity');
    redis = fixture.connect();
  });
  afterAll(async () => {
    await fixture.cleanup();
  });

  it('UTC day and month boundaries, 1970 to 2400', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: Date.UTC(2400, 0, 1) }), { minLength: 1, maxLength: 200 }),
        async (instants) => {
          const reply = (await redis.eval(PERIODS_SCRIPT, 0, ...instants)) as number[];
          const expected = instants.flatMap((nowMs) => {
            const day = periodStartMs('day', nowMs);
            const month = periodStartMs('month', nowMs);
            return [day, periodEndMs('day', day), month, periodEndMs('month', month)];
          });
          expect(reply).toEqual(expected);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('bucket evaluation, reporting and adjustment, up to the accepted maxima', async () => {
    const caseArbitrary = fc
      .record({
        rate: fc.oneof(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 10_000_000_000 })),
        burst: fc.oneof(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 10_000_000_000 })),
        levelFraction: fc.double({ min: -1, max: 1, noNaN: true }),
        cost: fc.integer({ min: 0, max: 10_000_000_000 }),
        delta: fc.integer({ min: -10_000_000_000, max: 10_000_000_000 }),
        nowMs: fc.integer({ min: 0, max: 10_000_000_000_000 }),
      })
      .map(({ rate, burst, levelFraction, cost, delta, nowMs }) => {
        const capacity = burst * 60_000;
        return { rate, burst, level: Math.round(capacity * levelFraction), cost, delta, nowMs };
      });
    await fc.assert(
      fc.asyncProperty(fc.array(caseArbitrary, { minLength: 1, maxLength: 100 }), async (cases) => {
        const argv = cases.flatMap((c) => [c.level, c.cost, c.rate, c.burst, c.delta, c.nowMs].map(String));
        const reply = (await redis.eval(BUCKET_SCRIPT, 0, ...argv)) as (number | string)[];
        const expected = cases.flatMap((c) => {
          const limits: BucketLimits = { ratePerMinute: c.rate, burst: c.burst };
          const verdict = evaluateBucket(c.level, c.cost, limits);
          return [
            verdict.allowed ? 1 : 0,
            verdict.retryAfterMs ?? -1,
            bucketRemainingUnits(c.level),
            bucketResetAtMs(c.level, limits, c.nowMs),
            String(adjustBucketLevel(c.level, c.delta, limits)),
          ];
        });
        expect(reply).toEqual(expected);
      }),
      { numRuns: 50 },
    );
  });
});
