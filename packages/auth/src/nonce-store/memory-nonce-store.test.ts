import { RouterError } from '@api-router/errors';
import { describe, expect, it } from 'vitest';
import { createMemoryNonceStore } from './memory-nonce-store.js';

function fakeClock(startMs = 1_000_000) {
  let nowMs = startMs;
  return { now: () => nowMs, advance: (ms: number) => void (nowMs += ms) };
}

describe('createMemoryNonceStore', () => {
  it('accepts a nonce once per key until it expires', async () => {
    const clock = fakeClock();
    const store = createMemoryNonceStore({ clock, maxEntries: 10 });
    await expect(store.claim('k1', 'n', 60)).resolves.toBe(true);
    await expect(store.claim('k1', 'n', 60)).resolves.toBe(false);
    await expect(store.claim('k2', 'n', 60)).resolves.toBe(true);
    clock.advance(59_999);
    await expect(store.claim('k1', 'n', 60)).resolves.toBe(false);
    clock.advance(1);
    await expect(store.claim('k1', 'n', 60)).resolves.toBe(true);
  });

  it('keeps (key, nonce) pairs apart even when joined strings would collide', async () => {
    const store = createMemoryNonceStore({ clock: fakeClock(), maxEntries: 10 });
    await expect(store.claim('a:b', 'c', 60)).resolves.toBe(true);
    await expect(store.claim('a', 'b:c', 60)).resolves.toBe(true);
  });

  it('refuses new nonces when full of live ones rather than evicting (fails closed)', async () => {
    const clock = fakeClock();
    const store = createMemoryNonceStore({ clock, maxEntries: 2 });
    await store.claim('k1', 'a', 60);
    await store.claim('k2', 'b', 120);
    const full = store.claim('k3', 'c', 60);
    await expect(full).rejects.toBeInstanceOf(RouterError);
    await expect(full).rejects.toMatchObject({ code: 'dependency_unavailable' });
    await expect(store.claim('k1', 'a', 60)).resolves.toBe(false);
  });

  it('keeps one key from taking the whole store: over its share it gets 429, other keys keep working', async () => {
    const clock = fakeClock();
    const store = createMemoryNonceStore({ clock, maxEntries: 10 });
    let accepted = 0;
    let refused: unknown;
    for (let index = 0; index < 10 && refused === undefined; index += 1) {
      try {
        if (await store.claim('busy', `n${index}`, 60)) accepted += 1;
      } catch (error: unknown) {
        refused = error;
      }
    }
    // A key may hold no more nonces than are left free: at most half of an otherwise empty store.
    expect(accepted).toBe(5);
    expect(refused).toBeInstanceOf(RouterError);
    expect(refused).toMatchObject({ code: 'rate_limited', status: 429, retryAfterSeconds: 60 });
    for (const key of ['k1', 'k2', 'k3']) await expect(store.claim(key, 'n', 60)).resolves.toBe(true);
    // Never at the price of a replay: the busy key's nonces are still remembered.
    await expect(store.claim('busy', 'n0', 60)).resolves.toBe(false);
    clock.advance(60_000);
    await expect(store.claim('busy', 'n5', 60)).resolves.toBe(true);
  });

  it('makes room by dropping expired nonces, including ones behind a longer-lived entry', async () => {
    const clock = fakeClock();
    const store = createMemoryNonceStore({ clock, maxEntries: 2 });
    await store.claim('k1', 'long', 600);
    await store.claim('k2', 'short', 60);
    clock.advance(60_000);
    await expect(store.claim('k3', 'new', 60)).resolves.toBe(true);
    await expect(store.claim('k1', 'long', 600)).resolves.toBe(false);
  });

  it('validates its options and the ttl', async () => {
    expect(() => createMemoryNonceStore({ clock: fakeClock(), maxEntries: 0 })).toThrow(RangeError);
    const store = createMemoryNonceStore({ clock: fakeClock(), maxEntries: 1 });
    await expect(store.claim('k', 'n', 0)).rejects.toBeInstanceOf(RangeError);
    await expect(store.claim('k', 'n', 1.5)).rejects.toBeInstanceOf(RangeError);
    await expect(store.claim('k\u0000', 'n', 60)).rejects.toBeInstanceOf(RangeError);
  });
});
