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
});
