import { randomUUID } from 'node:crypto';
import { Etcd3, type IKeyValue } from 'etcd3';
import { afterAll, describe, expect, it } from 'vitest';
import { testServices } from '../src/index.js';

describe('etcd (real server)', () => {
  const client = new Etcd3({ hosts: testServices().ETCD_ENDPOINTS.split(',') });

  afterAll(() => {
    client.close();
  });

  it('puts and gets a key', async () => {
    const key = `smoke/${randomUUID()}`;
    await client.put(key).value('v1');
    expect(await client.get(key).string()).toBe('v1');
  });

  it('delivers a put to a watcher', async () => {
    const key = `smoke/${randomUUID()}`;
    const watcher = await client.watch().key(key).create();
    try {
      const seen = new Promise<IKeyValue>((resolve) => watcher.once('put', resolve));
      await client.put(key).value('watched');
      const kv = await seen;
      expect(kv.key.toString()).toBe(key);
      expect(kv.value.toString()).toBe('watched');
    } finally {
      await watcher.cancel();
    }
  });
});
