import { trace } from '@opentelemetry/api';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
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

  it('sends no failover once the deadline has passed, even before its timer aborted the request', async () => {
    // The first attempt's connect failure and the deadline come due together (a connect timeout as long as
    // the time left): the failover would send the next backend a request it has 0 ms to answer.
    let remainingMs = 1000;
    const sentTo: string[] = [];
    const { deps, call, state, attempts } = setup((request) => {
      sentTo.push(request.backend.id);
      remainingMs = 0;
      return request.backend.id === 'a' ? 'refused' : ok(200, '{}');
    });
    const error = await callUpstream(deps, {
      ...call,
      requestSignal: { ...call.requestSignal, remainingMs: () => remainingMs },
    }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'upstream_timeout', status: 504 });
    expect(sentTo).toEqual(['a']);
    expect(state.attempts).toBe(1);
    expect(await attempts()).toEqual({ 'a:connect_failed': 1 });
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

  it("answers a backend's 400, 413 or 422 as upstream_rejected (400, not retryable) with its reason", async () => {
    const openAiBody = JSON.stringify({
      error: {
        message: "This model's maximum context length is 8192 tokens.",
        type: 'invalid_request_error',
        param: 'messages',
        code: 'context_length_exceeded',
      },
    });
    const openAi = setup(() => ok(400, openAiBody));
    const error = await callUpstream(openAi.deps, openAi.call).catch((caught: unknown) => caught);
    expect(error).toMatchObject({
      code: 'upstream_rejected',
      status: 400,
      retryable: false,
      message:
        "The model backend refused the request (status 400, context_length_exceeded): This model's maximum " +
        'context length is 8192 tokens.',
      details: { upstream_status: 400, upstream_code: 'context_length_exceeded', param: 'messages' },
    });
    expect(openAi.state.responded).toBe(false);
    expect(await openAi.attempts()).toEqual({ 'a:status_error': 1 });
    // vLLM's shape (a numeric code), FastAPI's {"detail"}, and a body that is not JSON.
    const cases: [number, string, string][] = [
      [
        400,
        '{"object":"error","message":"max_tokens is too large","type":"BadRequestError","param":null,"code":400}',
        'The model backend refused the request (status 400): max_tokens is too large',
      ],
      [
        422,
        '{"detail":"field required"}',
        'The model backend refused the request (status 422): field required',
      ],
      [413, '<html>too large</html>', 'The model backend refused the request (status 413).'],
    ];
    for (const [status, body, message] of cases) {
      const other = setup(() => ok(status, body));
      await expect(callUpstream(other.deps, other.call)).rejects.toMatchObject({
        code: 'upstream_rejected',
        message,
        details: { upstream_status: status },
      });
    }
  });

  const NOW_FOR_RETRY_AFTER_MS = Date.UTC(2026, 10, 29, 12, 0, 0);
  // The backend's own wait: an SDK retrying the 502 honours Retry-After, which tells it when the backend
  // (rate-limited or overloaded) takes requests again; without it the SDK guesses with its own backoff.
  it("passes on a backend 429's or 503's Retry-After (seconds or a date), bounded to an hour", async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: NOW_FOR_RETRY_AFTER_MS });
    onTestFinished(() => {
      vi.useRealTimers();
    });
    const cases: [number, string, number | undefined][] = [
      [429, '7', 7],
      [503, '0', 0],
      [429, new Date(NOW_FOR_RETRY_AFTER_MS + 30_000).toUTCString(), 30],
      [429, '86400', 3600],
      [429, 'soon', undefined],
      [500, '7', undefined],
    ];
    for (const [status, retryAfter, seconds] of cases) {
      const { deps, call } = setup(() => ({
        ...ok(status, '{"error":{"message":"slow down"}}'),
        headers: { 'retry-after': retryAfter },
      }));
      const error = await callUpstream(deps, call).catch((caught: unknown) => caught);
      expect(error, `${status} ${retryAfter}`).toMatchObject({
        code: 'upstream_error',
        retryAfterSeconds: seconds,
      });
    }
  });

  it('fails with 502 and closes the attempt when a backend 429 carries Retry-After twice', async () => {
    // undici hands a repeated field over as an array (a proxy adding its own Retry-After to the backend's).
    const { deps, call, state } = setup(() => ({
      ...ok(429, '{"error":{"message":"slow down"}}'),
      headers: { 'retry-after': ['2', '4'] } as unknown as UpstreamWholeResponse['headers'],
    }));
    const error = await callUpstream(deps, call).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'upstream_error', retryAfterSeconds: 4 });
    expect(state.attemptStartedAtMs).toBeUndefined();
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
