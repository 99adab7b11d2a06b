import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { testServices } from '../src/index.js';

describe('redis (real server)', () => {
  const redis = new Redis(testServices().REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });

  afterAll(async () => {
    await redis.quit();
  });

  it('SETs and GETs a key', async () => {
    const key = `smoke:${randomUUID()}`;
    await redis.connect();
    expect(await redis.set(key, 'value-1', 'PX', 60_000)).toBe('OK');
    expect(await redis.get(key)).toBe('value-1');
    expect(await redis.pttl(key)).toBeGreaterThan(0);
  });
});
