import { randomUUID } from 'node:crypto';
import { RouterError } from '@api-router/errors';
import { testServices } from '@api-router/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisNonceStore } from '../src/index.js';

// Two data-plane replicas share one Redis: each has its own client and store, and a nonce presented to
// both at once must be accepted by exactly one.
describe('createRedisNonceStore (real Redis)', () => {
  const prefix = `test:auth:nonce:${randomUUID()}:`;
  const clients: Redis[] = [];
  const newClient = () => {
    const client = new Redis(testServices().REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    clients.push(client);
    return client;
  };
  let first: Redis;
  let second: Redis;

  beforeAll(async () => {
    first = newClient();
    second = newClient();
    await Promise.all([first.connect(), second.connect()]);
  });

  afterAll(async () => {
    const keys = await first.keys(`${prefix}*`);
    if (keys.length > 0) await first.del(...keys);
    await Promise.all(clients.map((client) => client.quit()));
  });

  it('lets exactly one of two replicas claim a nonce presented to both concurrently', async () => {
    const storeA = createRedisNonceStore({ redis: first, prefix });
    const storeB = createRedisNonceStore({ redis: second, prefix });
    const nonces = Array.from({ length: 50 }, (_, index) => `nonce-${index}`);
    const outcomes = await Promise.all(
      nonces.map((nonce) =>
        Promise.all([storeA.claim('partner-1', nonce, 60), storeB.claim('partner-1', nonce, 60)]),
      ),
    );
    for (const [a, b] of outcomes) {
      expect(Number(a) + Number(b)).toBe(1);
    }
    await expect(storeA.claim('partner-1', 'nonce-0', 60)).resolves.toBe(false);
  });

  it('scopes nonces per key id and sets the expiry in Redis', async () => {
    const store = createRedisNonceStore({ redis: first, prefix });
    await expect(store.claim('a:b', 'c', 30)).resolves.toBe(true);
    await expect(store.claim('a', 'b:c', 30)).resolves.toBe(true);
    const ttlSeconds = await first.ttl(`${prefix}"a:b":"c"`);
    expect(ttlSeconds).toBeGreaterThan(0);
    expect(ttlSeconds).toBeLessThanOrEqual(30);
  });

  it('accepts the nonce again once Redis has expired it', async () => {
    const store = createRedisNonceStore({ redis: first, prefix });
    await expect(store.claim('partner-1', 'short-lived', 60)).resolves.toBe(true);
    // Expire it now instead of sleeping for the TTL.
    await first.pexpire(`${prefix}"partner-1":"short-lived"`, 1);
    await expect.poll(() => first.exists(`${prefix}"partner-1":"short-lived"`)).toBe(0);
    await expect(store.claim('partner-1', 'short-lived', 60)).resolves.toBe(true);
  });

  it('fails closed with dependency_unavailable when Redis cannot answer', async () => {
    // Not in `clients`: it is quit here, and afterAll must not quit it twice.
    const closed = new Redis(testServices().REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await closed.connect();
    await closed.quit();
    const store = createRedisNonceStore({ redis: closed, prefix });
    const claim = store.claim('partner-1', 'n', 60);
    await expect(claim).rejects.toBeInstanceOf(RouterError);
    await expect(claim).rejects.toMatchObject({ code: 'dependency_unavailable' });
  });
});
