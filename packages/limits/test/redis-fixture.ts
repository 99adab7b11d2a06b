import { randomUUID } from 'node:crypto';
import { testServices } from '@api-router/testing';
import { Redis, type RedisOptions } from 'ioredis';

/** Clients on the integration Redis under a key prefix of their own, and a teardown that removes both. */
export interface RedisFixture {
  /** Unique per fixture, e.g. `test:limits:differential:<uuid>:`. */
  readonly keyPrefix: string;
  /** A new client (closed by `cleanup`), with `options` over the fixture's. */
  connect(options?: RedisOptions): Redis;
  /** Deletes every key under the prefix and closes every client. */
  cleanup(): Promise<void>;
}

export function createRedisFixture(name: string): RedisFixture {
  const url = testServices().REDIS_URL;
  const keyPrefix = `test:limits:${name}:${randomUUID()}:`;
  const clients: Redis[] = [];
  const connect = (options: RedisOptions = {}): Redis => {
    const client = new Redis(url, { maxRetriesPerRequest: 1, ...options });
    clients.push(client);
    return client;
  };
  return {
    keyPrefix,
    connect,
    async cleanup() {
      const admin = connect();
      let cursor = '0';
      do {
        const [next, keys] = await admin.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await admin.del(...keys);
      } while (cursor !== '0');
      await Promise.all(clients.map((client) => client.quit()));
    },
  };
}
