import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createScriptRunner, script } from '../src/redis/script-runner.js';
import { createRedisFixture, type RedisFixture } from './redis-fixture.js';

const SET = script("redis.call('SET', KEYS[1], ARGV[1]) return 1");
const GET = script("return redis.call('GET', KEYS[1])");

let fixture: RedisFixture;
beforeEach(() => {
  fixture = createRedisFixture('script-runner');
});
afterEach(async () => {
  await fixture.cleanup();
});

describe('createScriptRunner (real Redis)', () => {
  it('holds a lazy call until the next immediate call, then sends it first', async () => {
    const runner = createScriptRunner(fixture.connect(), 60_000);
    const other = fixture.connect();
    const key = `${fixture.keyPrefix}k`;
    const lazy = runner.lazy(SET, [1, key, 'settled']);
    // Held: another client does not see it (the delay is a minute, far beyond this test).
    expect(await other.get(key)).toBeNull();
    // The next call's write carries it, before the call itself.
    await expect(runner.now(GET, [1, key])).resolves.toBe('settled');
    await expect(lazy).resolves.toBe(1);
  });

  it('sends a lazy call alone once its delay is over', async () => {
    const runner = createScriptRunner(fixture.connect(), 5);
    const key = `${fixture.keyPrefix}alone`;
    await expect(runner.lazy(SET, [1, key, 'v'])).resolves.toBe(1);
    expect(await fixture.connect().get(key)).toBe('v');
  });

  it('keeps the order of several lazy calls, and sends at once with delay 0', async () => {
    const runner = createScriptRunner(fixture.connect(), 60_000);
    const key = `${fixture.keyPrefix}order`;
    const first = runner.lazy(SET, [1, key, 'first']);
    const second = runner.lazy(SET, [1, key, 'second']);
    await expect(runner.now(GET, [1, key])).resolves.toBe('second');
    await Promise.all([first, second]);
    const eager = createScriptRunner(fixture.connect(), 0);
    await expect(eager.lazy(SET, [1, key, 'third'])).resolves.toBe(1);
    expect(await fixture.connect().get(key)).toBe('third');
  });

  it('rejects a lazy call with the error of its script', async () => {
    const runner = createScriptRunner(fixture.connect(), 1);
    await expect(runner.lazy(script("return redis.call('NOPE')"), [0])).rejects.toThrow();
  });
});
