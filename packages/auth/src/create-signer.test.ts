import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeContentDigest } from './content-digest.js';
import { createSigner } from './create-signer.js';
import { type VerifyResult, verifyRequest } from './message-signature/verify-request.js';
import { createMemoryNonceStore } from './nonce-store/memory-nonce-store.js';
import { type VerifyingServer, startVerifyingServer } from './verifying-server.test-support.js';

const SECRET = Buffer.alloc(32, 42);
const NOW_MS = 1_750_000_000_123;
const clock = { now: () => NOW_MS };

function verifyOptions() {
  return {
    resolveSecrets: (keyId: string) => (keyId === 'partner-1' ? [SECRET] : []),
    nowMs: NOW_MS,
    nonceStore: createMemoryNonceStore({ clock, maxEntries: 100 }),
  };
}

describe('createSigner', () => {
  it('returns the given headers plus the signature fields, signed for the URL without its fragment', async () => {
    let counter = 0;
    const sign = createSigner({
      keyId: 'partner-1',
      secret: SECRET,
      clock,
      createNonce: () => `n${++counter}`,
    });
    const headers = sign({
      method: 'POST',
      url: 'https://router.example/v1/chat/completions?x=1#ignored',
      headers: { 'content-type': 'application/json', 'content-digest': 'sha-256=:stale:' },
      body: '{"a":"é"}',
    });
    expect(Object.keys(headers).sort()).toEqual([
      'Content-Digest',
      'Signature',
      'Signature-Input',
      'content-type',
    ]);
    expect(headers['Content-Digest']).toBe(computeContentDigest(Buffer.from('{"a":"é"}', 'utf8')));
    expect(headers['Signature-Input']).toContain(';created=1750000000;keyid="partner-1";nonce="n1"');
    const result = await verifyRequest(
      { method: 'POST', url: '/v1/chat/completions?x=1', headers, body: Buffer.from('{"a":"é"}', 'utf8') },
      verifyOptions(),
    );
    expect(result).toEqual({ ok: true, keyId: 'partner-1', label: 'sig1' });
  });

  it('uses a fresh nonce per call', () => {
    const sign = createSigner({ keyId: 'partner-1', secret: SECRET, clock });
    const request = { method: 'GET', url: 'https://router.example/v1/models' };
    expect(sign(request)['Signature-Input']).not.toBe(sign(request)['Signature-Input']);
  });

  it('refuses an empty query ("?") when @target-uri is covered: clients differ on sending it', () => {
    // Node 20's fetch and undici's request() send "/v1/models", curl and undici 7's fetch "/v1/models?":
    // a signature over either target-uri fails with the other client, as bad_signature at the router.
    const sign = createSigner({
      keyId: 'partner-1',
      secret: SECRET,
      components: ['@method', '@target-uri', '@query', 'content-digest'],
    });
    expect(() => sign({ method: 'GET', url: 'https://router.example/v1/models?' })).toThrow(/empty query/);
    expect(() => sign({ method: 'GET', url: 'https://router.example/v1/models?#f' })).toThrow(/empty query/);
    expect(() => sign({ method: 'GET', url: 'https://router.example/v1/models' })).not.toThrow();
    expect(() => sign({ method: 'GET', url: 'https://router.example/v1/models?a' })).not.toThrow();
  });

  it('refuses a relative URL', () => {
    const sign = createSigner({ keyId: 'partner-1', secret: SECRET });
    expect(() => sign({ method: 'GET', url: '/v1/models' })).toThrow(TypeError);
  });
});

describe('createSigner with fetch against a real HTTP server', () => {
  let server: VerifyingServer;
  let baseUrl: string;
  const results = (): VerifyResult[] => server.received.splice(0).map((request) => request.result);

  beforeAll(async () => {
    server = await startVerifyingServer(verifyOptions());
    baseUrl = server.url;
  });

  afterAll(async () => {
    await server.close();
  });

  it('signs exactly what fetch puts on the wire, and a replay is refused', async () => {
    const sign = createSigner({
      keyId: 'partner-1',
      secret: SECRET,
      clock,
      components: [
        '@method',
        '@path',
        '@query',
        '@authority',
        '@target-uri',
        'content-digest',
        'content-type',
      ],
    });
    const url = `${baseUrl}/v1/chat/completions?stream=false&q=a%20b`;
    const body = JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'hello' }] });
    const headers = sign({ method: 'POST', url, headers: { 'content-type': 'application/json' }, body });
    const first = await fetch(url, { method: 'POST', headers, body });
    const replay = await fetch(url, { method: 'POST', headers, body });
    expect([first.status, replay.status]).toEqual([200, 401]);
    expect(results()).toEqual([
      { ok: true, keyId: 'partner-1', label: 'sig1' },
      { ok: false, reason: 'replayed_nonce', keyId: 'partner-1' },
    ]);
  });

  it('signs a lower-case method as fetch sends it (fetch upper-cases post, get, put…)', async () => {
    const sign = createSigner({ keyId: 'partner-1', secret: SECRET, clock });
    const url = `${baseUrl}/v1/chat/completions`;
    const body = '{"model":"demo","messages":[]}';
    const headers = sign({ method: 'post', url, headers: { 'content-type': 'application/json' }, body });
    const response = await fetch(url, { method: 'post', headers, body });
    expect(results()).toEqual([{ ok: true, keyId: 'partner-1', label: 'sig1' }]);
    expect(response.status).toBe(200);
  });
});
