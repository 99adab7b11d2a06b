import type { FastifyReply, FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import { compileRuntimePolicy } from '@api-router/policy';
import { ManualTime } from '../../test/support/manual-time.js';
import { createTestSnapshot } from '../../test/support/policy-snapshot-fixture.js';
import { UNLIMITED_ADMISSION } from '../admission/admission-ticket.js';
import { openSession, type InferenceHandlerDeps } from './inference-session.js';
import { ClientClosedError } from './request-signal.js';
import { createRequestState } from './request-state.js';

function opening(replyRaw: { destroyed: boolean; writableFinished: boolean }) {
  const time = new ManualTime(0);
  const aborts: string[] = [];
  const deps = {
    timers: time,
    now: () => time.now(),
    metrics: { upstreamAbortsTotal: { inc: ({ reason }: { reason: string }) => aborts.push(reason) } },
    admission: { admit: () => Promise.resolve(UNLIMITED_ADMISSION) },
  } as unknown as InferenceHandlerDeps;
  const state = createRequestState(time.now());
  state.principal = { keyId: 'rk_demo01', tenantId: 'acme', allowedModels: ['*'], scheme: 'api_key' };
  const request = {
    id: 'req-1',
    method: 'POST',
    raw: { socket: null },
    inferenceState: state,
    requestPolicy: {
      policy: compileRuntimePolicy(createTestSnapshot({ version: 1n })),
      credentials: { backendTokens: new Map(), signingSecrets: new Map() },
    },
  } as unknown as FastifyRequest;
  const reply = { raw: replyRaw, headers: () => reply } as unknown as FastifyReply;
  const open = () =>
    openSession(deps, request, reply, {
      model: 'demo-chat',
      messages: [{ content: 'hi' }],
      maxOutputTokens: 5,
    });
  return { open, aborts, time };
}

describe('openSession', () => {
  it('arms the deadline of a request whose client is still there', async () => {
    const { open, aborts, time } = opening({ destroyed: false, writableFinished: false });
    const session = await open();
    expect(session.requestSignal.aborted).toBe(false);
    time.advance(30_000);
    expect(session.requestSignal.aborted).toBe(true);
    expect(aborts).toEqual(['deadline']);
    session.end();
  });

  // The response's close listener aborts the session's signal; a client that left before the session
  // opened (e.g. while its signature's nonce was claimed in Redis) found no signal to abort. Its session
  // must not call a backend for nobody (a whole completion generated and charged).
  it('cancels at once a session opened after its client left', async () => {
    const { open, aborts } = opening({ destroyed: true, writableFinished: false });
    const session = await open();
    expect(session.requestSignal.aborted).toBe(true);
    expect(session.requestSignal.reason).toBeInstanceOf(ClientClosedError);
    expect(aborts).toEqual(['client_disconnect']);
    session.end();
  });
});
