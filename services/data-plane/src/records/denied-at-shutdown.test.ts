import { fromBinary } from '@bufbuild/protobuf';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AuditEventKind, AuditEventSchema } from '@api-router/contracts';
import type * as authModule from '@api-router/auth';
import { createSigner, type NonceStore } from '@api-router/auth';
import { waitFor } from '@api-router/testing';
import { startInferenceHarness, type InferenceHarness } from '../testing/inference-harness.test-support.js';
import { TEST_KEYS, testApiKey, testSigningSecret } from '../testing/test-policy.test-support.js';
import {
  expectNoAppendAfterClose,
  recordsAfterShutdown,
  waitForServerClosing,
} from './shutdown.test-support.js';

// A request refused before its route handler runs (401, written by the auth hook), whose client leaves while
// the data plane shuts down: the HTTP server's close ends with the last connection, but the hook is still
// waiting (here on the signature's nonce claim, held by the test) and appends its AUTH_DENIED event after.
// The event must still reach the outbox before the outbox closes.

/** Nonce claims the test holds: each resolves only when the test says so. */
const held = vi.hoisted(() => ({ claims: [] as ((fresh: boolean) => void)[], hold: false }));

vi.mock('@api-router/auth', async (importOriginal) => {
  const auth = await importOriginal<typeof authModule>();
  return {
    ...auth,
    createMemoryNonceStore: (...args: Parameters<typeof auth.createMemoryNonceStore>): NonceStore => {
      const store = auth.createMemoryNonceStore(...args);
      return {
        claim: (keyId, nonce, ttlSeconds) =>
          held.hold
            ? new Promise<boolean>((resolve) => held.claims.push(resolve))
            : store.claim(keyId, nonce, ttlSeconds),
      };
    },
  };
});

const messages = [{ role: 'user', content: 'hi' }];

describe('a request refused in the auth hook whose client leaves while the data plane shuts down', () => {
  let harness: InferenceHarness;
  beforeEach(async () => {
    held.hold = false;
    held.claims = [];
    harness = await startInferenceHarness({
      signingSecretRefs: { [TEST_KEYS.signer]: ['env:SIGNER'] },
      environment: { SIGNER: testSigningSecret('at-shutdown') },
    });
    // Shutdown waits for a policy cache write still in progress: that disk time would let the hook finish
    // first by chance. Without it shutdown is as quick as it gets.
    await waitFor('the policy cache to be written', () =>
      harness.logs().includes('policy cache saved') ? true : undefined,
    );
  });
  afterEach(async () => {
    held.hold = false;
    for (const release of held.claims.splice(0)) release(false);
    await harness.close();
  });

  /** Sends a signed request whose nonce claim the test holds; resolves once the claim is waiting. */
  async function sendHeld(requestId: string, client: AbortController): Promise<void> {
    held.hold = true;
    const body = JSON.stringify({ model: 'demo-chat', messages });
    const sign = createSigner({
      keyId: TEST_KEYS.signer,
      secret: Buffer.from(testSigningSecret('at-shutdown'), 'base64'),
    });
    const url = `${harness.url}/v1/chat/completions`;
    const headers = sign({ method: 'POST', url, headers: { 'content-type': 'application/json' }, body });
    void fetch(url, {
      method: 'POST',
      headers: { ...headers, 'x-request-id': requestId },
      body,
      signal: client.signal,
    }).catch(() => undefined); // Rejects when the client leaves, below.
    await waitFor('the nonce claim to be held', () => (held.claims.length > 0 ? true : undefined));
  }

  /**
   * Shuts the data plane down while the held request's client leaves; releases the claim as a replay (401)
   * once shutdown has finished, or after 300 ms if shutdown waits for the request.
   */
  async function shutDownWhileClientLeaves(client: AbortController): Promise<void> {
    const stopped = harness.dataPlane[Symbol.asyncDispose]();
    await waitForServerClosing(harness);
    client.abort();
    await Promise.race([stopped, new Promise((resolve) => setTimeout(resolve, 300))]);
    for (const release of held.claims.splice(0)) release(false);
    await stopped;
  }

  async function expectAuditKept(requestId: string): Promise<void> {
    // Let a hook that outlived shutdown try its append (and count its failure) before looking.
    await waitFor('the auth failure to be logged', () =>
      harness.logLinesOf(requestId).some((line) => line.msg === 'authentication failed') ? true : undefined,
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    const records = await recordsAfterShutdown(harness);
    const events = records
      .filter((record) => record.topic === 'audit' && record.key === requestId)
      .map((record) => fromBinary(AuditEventSchema, record.payload));
    expect(events).toMatchObject([
      { requestId, kind: AuditEventKind.AUTH_DENIED, reasonCode: 'signature_replayed_nonce' },
    ]);
    await expectNoAppendAfterClose(harness);
  }

  it('keeps its AUTH_DENIED event (401)', async () => {
    const requestId = 'denied-at-shutdown';
    const client = new AbortController();
    await sendHeld(requestId, client);
    await shutDownWhileClientLeaves(client);
    await expectAuditKept(requestId);
  });

  // Every request is counted once from its first hook to the end of its processing, however it ends: one
  // counted twice would let the outbox close before the held request's event (or, below zero, hang
  // shutdown); one never uncounted would hang shutdown.
  it('keeps it after requests that ended every other way, and shutdown still completes', async () => {
    const bearer = { authorization: `Bearer ${testApiKey(TEST_KEYS.demo)}` };
    const json = { 'content-type': 'application/json' };
    const post = (path: string, headers: Record<string, string>, body: string) =>
      fetch(`${harness.url}${path}`, { method: 'POST', headers, body }).then((response) => response.status);
    const chat = (model: string) => JSON.stringify({ model, messages });
    const statuses = [
      await post('/v1/chat/completions', { ...json, ...bearer }, chat('demo-chat')), // 200
      await post('/v1/chat/completions', { ...json, authorization: 'Bearer nope' }, chat('demo-chat')), // 401
      await post('/v1/chat/completions', { ...json, ...bearer }, '{"model":'), // 400, in the hook
      await post('/v1/chat/completions', { ...json, ...bearer }, '{"model":"demo-chat"}'), // 400, schema
      await post('/v1/chat/completions', { 'content-type': 'text/plain', ...bearer }, 'hi'), // 415
      await post('/v1/chat/completions', { ...json, ...bearer }, chat('no-such-model')), // 404, handler
      await post('/v1/inference', { ...json, ...bearer }, 'x'.repeat(100_000)), // 413
      await post(
        '/v1/inference',
        { ...json, authorization: `Bearer ${testApiKey(TEST_KEYS.limited)}` },
        chat('demo-chat'),
      ), // 403
      await fetch(`${harness.url}/v1/models`, { headers: bearer }).then((response) => response.status), // 200
      await fetch(`${harness.url}/v1/models/no-such-model`, { headers: bearer }).then((r) => r.status), // 404
      await fetch(`${harness.url}/v1/models`).then((response) => response.status), // 401
    ];
    expect(statuses).toEqual([200, 401, 400, 400, 415, 404, 413, 403, 200, 404, 401]);
    // A client that leaves while its body is still being read.
    const uploading = new AbortController();
    const upload = fetch(`${harness.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...json, ...bearer, 'content-length': '1000', 'x-request-id': 'left-uploading' },
      body: new ReadableStream({
        start: (controller) => controller.enqueue(new TextEncoder().encode('{"model":')),
      }),
      signal: uploading.signal,
      duplex: 'half',
    });
    void upload.catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 100));
    uploading.abort();
    await waitFor('the upload to be cut', () =>
      harness.logLinesOf('left-uploading').length > 0 ? true : undefined,
    );
    // A client that leaves while its nonce claim is held, released (a replay) before shutdown.
    const early = new AbortController();
    await sendHeld('left-early', early);
    early.abort();
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (const release of held.claims.splice(0)) release(false);
    await waitFor('the early auth failure to be logged', () =>
      harness.logLinesOf('left-early').some((line) => line.msg === 'authentication failed')
        ? true
        : undefined,
    );

    const requestId = 'denied-at-shutdown-after-others';
    const client = new AbortController();
    await sendHeld(requestId, client);
    await shutDownWhileClientLeaves(client);
    await expectAuditKept(requestId);
  });
});
