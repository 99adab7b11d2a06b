import { trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { create } from '@bufbuild/protobuf';
import { BackendSchema, RouteSchema } from '@api-router/contracts';
import { RouterError } from '@api-router/errors';
import { createMetricsRegistry } from '@api-router/observability';
import type { RuntimeRoute, RuntimeTarget } from '@api-router/policy';
import { createInferenceMetrics } from '../metrics/inference-metrics.js';
import type {
  UpstreamClient,
  UpstreamOutcome,
  UpstreamRequest,
  UpstreamWholeResponse,
} from '../upstream/upstream-client.js';
import type { MaxBodyBytes } from '../upstream/read-whole-response.js';
import { callUpstream, type CallUpstreamDeps, type UpstreamCall } from './call-upstream.js';
import { createRequestState } from './request-state.js';

const target = (id: string): RuntimeTarget => ({
  backend: create(BackendSchema, { id, baseUrl: `http://${id}.test/v1`, enabled: true }),
  weight: 1,
  priority: 0,
  upstreamModel: 'm',
});
const targets = [target('a'), target('b')];
const route: RuntimeRoute = { route: create(RouteSchema, { id: 'r', maxAttempts: 2 }), targets };

type WholeScript = (
  request: UpstreamRequest,
  maxBodyBytes: MaxBodyBytes,
) => UpstreamWholeResponse | 'refused';

/** A whole-reading upstream client answering from a script; records each call's body limits. */
function fakeUpstream(script: WholeScript) {
  const limits: MaxBodyBytes[] = [];
  const upstream: UpstreamClient = {
    stream: () => Promise.reject(new Error('not used')),
    whole: (request, maxBodyBytes): Promise<UpstreamOutcome<UpstreamWholeResponse>> => {
      limits.push(maxBodyBytes);
      const answer = script(request, maxBodyBytes);
      return Promise.resolve(
        answer === 'refused'
          ? { ok: false, failure: { kind: 'connect_failed', retrySafe: true, cause: new Error('refused') } }
          : { ok: true, response: answer },
      );
    },
  };
  return { upstream, limits };
}

function setup(script: WholeScript, signal = new AbortController().signal) {
  const { upstream, limits } = fakeUpstream(script);
  const registry = createMetricsRegistry({ defaultLabels: {} });
  const metrics = createInferenceMetrics(registry);
  let nowMs = 0;
  const deps: CallUpstreamDeps = {
    upstream,
    selectCandidate: (_route, tried) => targets.find((candidate) => !tried.has(candidate)),
    tracer: trace.getTracer('test'),
    randomBytes: (size) => Buffer.alloc(size, 1),
    metrics,
    now: () => (nowMs += 5),
  };
  const warnings: unknown[] = [];
  const state = createRequestState(0);
  const call: UpstreamCall = {
    route,
    credentials: { backendTokens: new Map([['a', 'secret-token']]), signingSecrets: new Map() },
    clientHeaders: {},
    requestId: 'req-1',
    path: '/chat/completions',
    bodyFor: () => '{}',
    accept: 'application/json',
    stream: false,
    maxResponseBytes: 2048,
    requestSignal: {
      get aborted() {
        return signal.aborted;
      },
      get reason(): unknown {
        return signal.reason as unknown;
      },
      addEventListener: (type, listener) => signal.addEventListener(type, listener),
      removeEventListener: (type, listener) => signal.removeEventListener(type, listener),
      clientClosed: () => undefined,
      remainingMs: () => 1000,
      dispose: () => undefined,
    },
    state,
    log: { warn: (object: unknown) => void warnings.push(object) },
  };
  const attempts = async () =>
    Object.fromEntries(
      (await metrics.upstreamAttemptsTotal.get()).values.map((value) => [
        `${value.labels.backend}:${value.labels.outcome}`,
        value.value,
      ]),
    );
  return { deps, call, state, limits, warnings, attempts };
}

const ok = (statusCode: number, text: string): UpstreamWholeResponse => ({
  statusCode,
  headers: {},
  body: { ok: true, bytes: Buffer.from(text) },
});

describe('callUpstream, read whole', () => {
  it('returns the body of a 2xx; the attempt is over: timed, counted, responded', async () => {
    const { deps, call, state, limits, attempts } = setup(() => ok(200, '{"id":"x"}'));
    const success = await callUpstream(deps, call);
    expect(success).toMatchObject({ kind: 'whole', target: targets[0] });
    if (success.kind === 'whole') expect(success.body.toString()).toBe('{"id":"x"}');
    expect(state).toMatchObject({
      responded: true,
      attempts: 1,
      attemptStartedAtMs: undefined,
      upstreamMs: 5,
    });
    expect(await attempts()).toEqual({ 'a:response': 1 });
    // The body limit: the response cap for a 2xx, a log excerpt's for an error, nothing that may echo the token.
    expect([200, 204, 500, 404, 401, 403].map((status) => limits[0]?.(status))).toEqual([
      2048, 2048, 4096, 4096, 0, 0,
    ]);
  });

  it("times the attempt from the request handed to the pool: building its body is the router's time", async () => {
    let clock = 100;
    const { deps, call, state } = setup(() => {
      clock += 12; // the backend (and the wire) take 12 ms
      return ok(200, '{"id":"x"}');
    });
    deps.now = () => clock;
    const bodyFor = (): string => {
      clock += 30; // serialising the body (and building the headers) is router CPU
      return '{}';
    };
    await callUpstream(deps, { ...call, bodyFor });
    expect(state.upstreamMs).toBe(12);
  });

  it('fails with the body error of a 2xx whose body could not be read, still counted as a response', async () => {
    const tooLarge = new RouterError('upstream_error', { details: { max_bytes: 2048 } });
    const { deps, call, state, attempts } = setup(() => ({
      statusCode: 200,
      headers: {},
      body: { ok: false, error: tooLarge },
    }));
    await expect(callUpstream(deps, call)).rejects.toBe(tooLarge);
    expect(state).toMatchObject({ responded: true, attemptStartedAtMs: undefined });
    expect(await attempts()).toEqual({ 'a:response': 1 });
  });

  it('fails over only when the backend was never reached', async () => {
    const { deps, call, state, attempts } = setup((request) =>
      request.backend.id === 'a' ? 'refused' : ok(200, '{}'),
    );
    const success = await callUpstream(deps, call);
    expect(success.target).toBe(targets[1]);
    expect(state.attempts).toBe(2);
    expect(await attempts()).toEqual({ 'a:connect_failed': 1, 'b:response': 1 });
  });

  it('answers an error status with 502 and logs the start of its body', async () => {
    const { deps, call, state, warnings, attempts } = setup(() => ok(500, '{"error":"boom"}'));
    await expect(callUpstream(deps, call)).rejects.toMatchObject({
      code: 'upstream_error',
      details: { upstream_status: 500 },
    });
    expect(warnings).toEqual([
      expect.objectContaining({ upstreamStatus: 500, upstreamBody: '{"error":"boom"}' }),
    ]);
    expect(state.responded).toBe(false);
    expect(await attempts()).toEqual({ 'a:status_error': 1 });
  });

  it('never logs the body of an authentication error', async () => {
    const { deps, call, warnings } = setup(() => ok(401, 'bad token secret-token'));
    await expect(callUpstream(deps, call)).rejects.toMatchObject({ details: { upstream_status: 401 } });
    expect(JSON.stringify(warnings)).not.toContain('secret-token');
    expect(warnings).toEqual([
      expect.objectContaining({ upstreamBody: '(body unreadable: not logged for an authentication error)' }),
    ]);
  });

  it('says why an error body could not be read, and lets an abort win', async () => {
    const unreadable: WholeScript = () => ({
      statusCode: 500,
      headers: {},
      body: { ok: false, error: new RouterError('upstream_error', { message: 'size limit' }) },
    });
    const quiet = setup(unreadable);
    await expect(callUpstream(quiet.deps, quiet.call)).rejects.toMatchObject({
      details: { upstream_status: 500 },
    });
    expect(quiet.warnings).toEqual([
      expect.objectContaining({ upstreamBody: '(body unreadable: size limit)' }),
    ]);

    const controller = new AbortController();
    const reason = new Error('client gone');
    controller.abort(reason);
    const aborted = setup(unreadable, controller.signal);
    await expect(callUpstream(aborted.deps, aborted.call)).rejects.toBe(reason);
  });
});
