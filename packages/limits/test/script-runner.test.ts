import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { createScriptRunner, script } from '../src/redis/script-runner.js';
import { createRedisFixture, type RedisFixture } from './redis-fixture.js';

/** Keeps the event loop busy (no I/O callback, no check phase) for at least `ms`. */
function busyFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spinning on purpose: a long synchronous stretch of one event-loop turn
  }
}

describe('script runner on one Redis client', () => {
  let fixture: RedisFixture | undefined;
  afterEach(async () => {
    await fixture?.cleanup();
    fixture = undefined;
  });

  it('sends the calls of one turn in one write, and flushes them when the turn runs long', async () => {
    fixture = createRedisFixture('script-runner');
    const client = fixture.connect();
    await client.ping();
    const run = createScriptRunner(client);
    const echo = script('return ARGV[1]');
    // Cached first, so that no NOSCRIPT retry adds writes below.
    expect(await run(echo, [0, 'warm'])).toBe('warm');

    const first = run(echo, [0, 'a1']);
    const oneCall = client.stream.writableLength;
    expect(oneCall).toBeGreaterThan(0); // corked: still in the process
    const second = run(echo, [0, 'a2']);
    expect(client.stream.writableLength).toBe(2 * oneCall); // the same turn: they collect

    busyFor(2);
    const third = run(echo, [0, 'a3']);
    // Corked for over a millisecond: the two earlier calls left before the third joined the buffer.
    expect(client.stream.writableLength).toBe(oneCall);
    expect(await Promise.all([first, second, third])).toEqual(['a1', 'a2', 'a3']);
    expect(client.stream.writableLength).toBe(0);
  });

  it("bounds no call by the client's commandTimeout: each call's deadline is its caller's", async () => {
    fixture = createRedisFixture('script-runner');
    const client = fixture.connect({ commandTimeout: 20 });
    await client.ping();
    const run = createScriptRunner(client);
    // Keeps Redis busy for 100 ms by its own clock, five times the client's command timeout.
    const slow = script(
      `local function ms() local t = redis.call('TIME') return t[1] * 1000 + math.floor(t[2] / 1000) end
       local start = ms()
       while ms() - start < tonumber(ARGV[1]) do end
       return ms() - start`,
      { integerReplies: true },
    );
    expect(await run(slow, [0, 100])).toBeGreaterThanOrEqual(100);
    // The same client's own commands still time out as configured.
    await expect(client.eval(slow.lua, 0, 100)).rejects.toThrow('Command timed out');
  });

  it('answers integer replies as numbers and text replies as strings', async () => {
    fixture = createRedisFixture('script-runner');
    const run = createScriptRunner(fixture.connect());
    const pair = 'return { tonumber(ARGV[1]), ARGV[2] }';
    expect(await run(script(pair), [0, 7, 'seven'])).toEqual([7, 'seven']);
    expect(await run(script(pair, { integerReplies: true }), [0, 7, 'seven'])).toEqual([
      7,
      Buffer.from('seven'),
    ]);
  });

  it('refuses a client with a keyPrefix, which encoded commands would not apply', () => {
    fixture = createRedisFixture('script-runner');
    expect(() => createScriptRunner(fixture!.connect({ keyPrefix: 'app:', lazyConnect: true }))).toThrow(
      'must not have a keyPrefix',
    );
  });
});
