import { describe, expect, it } from 'vitest';
import { createMemoryNonceStore } from '../nonce-store/memory-nonce-store.js';
import type { NonceStore } from '../nonce-store/nonce-store.js';
import { verifyRequest } from './verify-request.js';
import { NOW_SECONDS, SECRET, NEXT_SECRET, REQUEST, sign, options } from './verify-request.test-support.js';

describe('verifyRequest: time window, rotation, nonces', () => {
  describe('time window', () => {
    it.each([-300, -1, 0, 1, 300])('accepts created at now %+d s (default window 300 s)', async (offset) => {
      await expect(
        verifyRequest(sign(REQUEST, { created: NOW_SECONDS + offset }), options()),
      ).resolves.toMatchObject({
        ok: true,
      });
    });

    it('honours a custom window', async () => {
      const signed = sign(REQUEST, { created: NOW_SECONDS - 61 });
      await expect(verifyRequest(signed, options({ windowSeconds: 60 }))).resolves.toEqual({
        ok: false,
        reason: 'expired',
        keyId: 'partner-1',
      });
    });

    it('uses whole seconds of nowMs', async () => {
      const signed = sign(REQUEST, { created: NOW_SECONDS + 300 });
      await expect(
        verifyRequest(signed, options({ nowMs: NOW_SECONDS * 1000 + 999 })),
      ).resolves.toMatchObject({ ok: true });
    });
  });

  describe('rotation', () => {
    const rotating = () => options({ resolveSecrets: () => [SECRET, NEXT_SECRET] });

    it('accepts a signature by either active secret', async () => {
      await expect(verifyRequest(sign(REQUEST, { nonce: 'a' }), rotating())).resolves.toMatchObject({
        ok: true,
      });
      await expect(
        verifyRequest(sign(REQUEST, { nonce: 'b', secret: NEXT_SECRET }), rotating()),
      ).resolves.toMatchObject({
        ok: true,
      });
    });

    it('refuses a retired secret', async () => {
      const retired = sign(REQUEST, { secret: Buffer.alloc(32, 5) });
      await expect(verifyRequest(retired, rotating())).resolves.toEqual({
        ok: false,
        reason: 'bad_signature',
        keyId: 'partner-1',
      });
    });
  });

  describe('nonces', () => {
    it('does not burn a nonce on a forged request', async () => {
      const verifyOptions = options();
      const forged = sign(REQUEST, { secret: Buffer.alloc(32, 1) });
      await expect(verifyRequest(forged, verifyOptions)).resolves.toEqual({
        ok: false,
        reason: 'bad_signature',
        keyId: 'partner-1',
      });
      await expect(verifyRequest(sign(REQUEST), verifyOptions)).resolves.toMatchObject({ ok: true });
    });

    it('scopes nonces per key and claims them for twice the window plus a second', async () => {
      const claims: [string, string, number][] = [];
      const nonceStore: NonceStore = {
        claim: (keyId, nonce, ttlSeconds) => {
          claims.push([keyId, nonce, ttlSeconds]);
          return Promise.resolve(true);
        },
      };
      await verifyRequest(sign(REQUEST), options({ nonceStore, windowSeconds: 120 }));
      expect(claims).toEqual([['partner-1', 'nonce-1', 241]]);
    });

    it('keeps a nonce for as long as its created stays in the window, whole seconds included', async () => {
      // created C is accepted while floor(now / 1 s) is within C ± window: from (C - window) s to just
      // before (C + window + 1) s, 2 × window + 1 seconds. A nonce first accepted at the very start must
      // still be remembered at the very end.
      let nowMs = (NOW_SECONDS - 300) * 1000;
      const nonceStore = createMemoryNonceStore({ clock: { now: () => nowMs }, maxEntries: 100 });
      const signed = sign(REQUEST);
      await expect(verifyRequest(signed, options({ nowMs, nonceStore }))).resolves.toMatchObject({
        ok: true,
      });
      nowMs = (NOW_SECONDS + 300) * 1000 + 999;
      await expect(verifyRequest(signed, options({ nowMs, nonceStore }))).resolves.toEqual({
        ok: false,
        reason: 'replayed_nonce',
        keyId: 'partner-1',
      });
    });

    it('rejects when the nonce store fails, rather than accepting', async () => {
      const failure = new Error('redis down');
      const nonceStore: NonceStore = { claim: () => Promise.reject(failure) };
      await expect(verifyRequest(sign(REQUEST), options({ nonceStore }))).rejects.toBe(failure);
    });
  });
});
