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
    await store.claim('k', 'a', 60);
    await store.claim('k', 'b', 120);
    const full = store.claim('k', 'c', 60);
    await expect(full).rejects.toBeInstanceOf(RouterError);
    await expect(full).rejects.toMatchObject({ code: 'dependency_unavailable' });
    await expect(store.claim('k', 'a', 60)).resolves.toBe(false);
  });

  it('makes room by dropping expired nonces, including ones behind a longer-lived entry', async () => {
    const clock = fakeClock();
    const store = createMemoryNonceStore({ clock, maxEntries: 2 });
    await store.claim('k', 'long', 600);
    await store.claim('k', 'short', 60);
    clock.advance(60_000);
    await expect(store.claim('k', 'new', 60)).resolves.toBe(true);
    await expect(store.claim('k', 'long', 600)).resolves.toBe(false);
  });

  it('validates its options and the ttl', async () => {
    expect(() => createMemoryNonceStore({ clock: fakeClock(), maxEntries: 0 })).toThrow(RangeError);
    const store = createMemoryNonceStore({ clock: fakeClock(), maxEntries: 1 });
    await expect(store.claim('k', 'n', 0)).rejects.toBeInstanceOf(RangeError);
    await expect(store.claim('k', 'n', 1.5)).rejects.toBeInstanceOf(RangeError);
  });
});
