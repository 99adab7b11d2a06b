import { describe, expect, it } from 'vitest';
import { create } from '@bufbuild/protobuf';
import { BackendSchema, type Backend } from '@api-router/contracts';
import { createLogger } from '@api-router/observability';
import { UpstreamPools } from './upstream-pools.js';

class FakePool {
  closed = false;
  constructor(readonly origin: string) {}
  request(): never {
    throw new Error('not used');
  }
  dispatch(): never {
    throw new Error('not used');
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
  destroy(): Promise<void> {
    return Promise.resolve();
  }
}

const backend = (id: string, baseUrl: string, maxConnections = 8): Backend =>
  create(BackendSchema, { id, baseUrl, maxConnections, connectTimeoutMs: 100, enabled: true });

describe('UpstreamPools', () => {
  it('keeps pools of unchanged backends across policies and retires changed and removed ones', async () => {
    const created: FakePool[] = [];
    const pools = new UpstreamPools({
      logger: createLogger({ service: 'test', level: 'silent' }),
      createPool: (origin) => {
        const pool = new FakePool(origin);
        created.push(pool);
        return pool;
      },
    });
    const a = backend('a', 'http://127.0.0.1:1/v1');
    const b = backend('b', 'http://127.0.0.1:2/v1');
    pools.sync(
      new Map([
        ['a', a],
        ['b', b],
      ]),
    );
    const poolA = pools.poolFor(a);
    const poolB = pools.poolFor(b);
    expect(pools.poolFor(a)).toBe(poolA);
    expect(created.map((pool) => pool.origin)).toEqual(['http://127.0.0.1:1', 'http://127.0.0.1:2']);

    // A new policy: a unchanged (a new but equal message) keeps its pool, b resized gets a new one.
    const a2 = backend('a', 'http://127.0.0.1:1/v1');
    const b2 = backend('b', 'http://127.0.0.1:2/v1', 16);
    pools.sync(
      new Map([
        ['a', a2],
        ['b', b2],
      ]),
    );
    expect(pools.poolFor(a2)).toBe(poolA);
    expect((poolB as unknown as FakePool).closed).toBe(true);
    expect(pools.poolFor(b2)).not.toBe(poolB);

    pools.sync(new Map([['b', b2]]));
    expect((poolA as unknown as FakePool).closed).toBe(true);
    expect(pools.size()).toBe(1);

    await pools.close();
    expect(created.every((pool) => pool.closed)).toBe(true);
    expect(() => pools.poolFor(b2)).toThrow('closed');
  });

  it('serves a request of the previous policy without replacing the current pool, and closes its pool later', () => {
    // A request keeps the policy it arrived with: admitted (or queued) before a policy changed a backend's
    // connection settings, it starts its attempt after requests of the new policy did. Each of them used
    // to retire the other's pool: a new pool, new connections beyond maxConnections, at every alternation.
    const created: FakePool[] = [];
    const pools = new UpstreamPools({
      logger: createLogger({ service: 'test', level: 'silent' }),
      createPool: (origin) => {
        const pool = new FakePool(origin);
        created.push(pool);
        return pool;
      },
    });
    const old = backend('b', 'http://127.0.0.1:2/v1', 8);
    const removed = backend('gone', 'http://127.0.0.1:3/v1');
    pools.sync(
      new Map([
        ['b', old],
        ['gone', removed],
      ]),
    );
    pools.poolFor(old);
    const current = backend('b', 'http://127.0.0.1:2/v1', 16);
    pools.sync(new Map([['b', current]]));
    const currentPool = pools.poolFor(current);
    for (let round = 0; round < 5; round += 1) {
      expect(pools.poolFor(old)).not.toBe(currentPool);
      expect(pools.poolFor(current)).toBe(currentPool);
    }
    expect((currentPool as unknown as FakePool).closed).toBe(false);
    // A backend the new policy removed is still served to its old requests, without a live entry.
    pools.poolFor(removed);
    expect(pools.size()).toBe(1);
    // The old policy's pools: one per backend, closed (once their requests are done) at the next policy.
    expect(created).toHaveLength(4);
    const stalePools = created.slice(2).filter((pool) => pool !== (currentPool as unknown as FakePool));
    expect(stalePools.map((pool) => pool.closed)).toEqual([false, false]);
    pools.sync(new Map([['b', backend('b', 'http://127.0.0.1:2/v1', 16)]]));
    expect(stalePools.map((pool) => pool.closed)).toEqual([true, true]);
    expect(pools.poolFor(current)).toBe(currentPool);
  });
});
