import type { IncomingHttpHeaders } from 'node:http';
import type { Tracer } from '@opentelemetry/api';
import type { FastifyBaseLogger } from 'fastify';
import { RouterError } from '@api-router/errors';
import type { RuntimeRoute, RuntimeTarget } from '@api-router/policy';
import type { ResolvedCredentials } from '../credentials/credential-resolver.js';
import type { InferenceMetrics } from '../metrics/inference-metrics.js';
import type { CandidateSelector } from '../routing/candidate-selector.js';
import { buildUpstreamHeaders } from '../upstream/forward-headers.js';
import {
  errorBodyExcerpt,
  mayEchoCredential,
  maxErrorBodyBytes,
  readStreamedErrorBody,
} from '../upstream/upstream-error-body.js';
import { rejectedRequestError } from '../upstream/rejected-request.js';
import { backendRetryAfterSeconds } from '../upstream/backend-retry-after.js';
import { upstreamFailureError } from '../upstream/upstream-failure.js';
import { isEventStreamBody } from '../upstream/event-stream-body.js';
import { startUpstreamTrace, type UpstreamTrace } from '../upstream/trace-context.js';
import type {
  UpstreamClient,
  UpstreamFailure,
  UpstreamOutcome,
  UpstreamRequest,
  UpstreamResponse,
  UpstreamWholeBody,
  UpstreamWholeResponse,
} from '../upstream/upstream-client.js';
import type { RandomBytes } from '../random-pool.js';
import type { RequestSignal } from './request-signal.js';
import type { InferenceRequestState } from './request-state.js';

export interface CallUpstreamDeps {
  upstream: UpstreamClient;
  selectCandidate: CandidateSelector;
  /** Undefined when tracing is off. */
  tracer: Tracer | undefined;
  /** Random bytes for the trace ids the router makes up when tracing is off. */
  randomBytes: RandomBytes;
  metrics: InferenceMetrics;
  /** Monotonic milliseconds. */
  now: () => number;
}

export interface UpstreamCall {
  readonly route: RuntimeRoute;
  readonly credentials: ResolvedCredentials;
  readonly clientHeaders: IncomingHttpHeaders;
  readonly requestId: string;
  /** Path under the backend base URL. */
  readonly path: string;
  /** The wire body for a target (its upstream model differs per target). */
  readonly bodyFor: (target: RuntimeTarget) => string;
  readonly accept: string;
  /** True: the 2xx body is relayed as it arrives (SSE); false: it is read whole (JSON). */
  readonly stream: boolean;
  /** Most bytes of a 2xx body read whole; a larger one fails the request with 502 upstream_error. */
  readonly maxResponseBytes: number;
  readonly requestSignal: RequestSignal;
  readonly state: InferenceRequestState;
  /** The request's logger (request id bound). */
  readonly log: Pick<FastifyBaseLogger, 'warn'>;
}

/** A 2xx upstream response and the target that produced it: streamed or whole, as the call asked. */
export type UpstreamSuccess = StreamedUpstreamSuccess | WholeUpstreamSuccess;

/** A 2xx response whose body streams (`call.stream`). Its body is not read yet. */
export interface StreamedUpstreamSuccess {
  readonly kind: 'stream';
  readonly response: UpstreamResponse;
  readonly target: RuntimeTarget;
  /** Ends the attempt's trace span; call once the response body is done. */
  readonly endTrace: (error?: unknown) => void;
}

/** A 2xx response read whole (not `call.stream`). The attempt is over: timed, counted, traced. */
export interface WholeUpstreamSuccess {
  readonly kind: 'whole';
  readonly body: Buffer;
  /**
   * The backend sent a stream (`text/event-stream`) though the request asked for a whole completion (some
   * servers stream by default, or ignore `stream: false`): read whole like JSON, under the same size cap
   * and deadline, and assembled by the inference route (upstream-response.ts).
   */
  readonly eventStream: boolean;
  readonly target: RuntimeTarget;
}

/**
 * Sends the request to the route's backends: a first choice by weight, then — only after a failure that
 * certainly never reached a backend (no connection: refused, timed out, TLS handshake failed) — the next
 * candidate on another backend, up to the route's max_attempts and while the deadline is not due. Any other
 * failure ends the request: no response before the first-byte timeout or the deadline → 504; a broken
 * connection or a non-2xx status → 502 (the upstream body is logged, not relayed); the client leaving →
 * the ClientClosedError. No candidate at all → 503 no_backend. A body read whole fails as the body read
 * does (size cap 502, stall 504, broken 502, abort).
 */
export function callUpstream(deps: CallUpstreamDeps, call: UpstreamCall): Promise<UpstreamSuccess> {
  return nextAttempt(deps, call, NONE_TRIED, undefined);
}

/** The first choice has nothing to exclude: no Set per request until a retry needs one. */
const NONE_TRIED: ReadonlySet<RuntimeTarget> = new Set();

/**
 * One attempt, then (after a failure that is safe to retry) the next. Chained promises rather than an
 * async loop: a suspended async function is a generator, a register file and a promise kept for as long as
 * the upstream call is in flight, and young-generation GCs copy whatever a request in flight keeps.
 */
function nextAttempt(
  deps: CallUpstreamDeps,
  call: UpstreamCall,
  tried: ReadonlySet<RuntimeTarget>,
  lastFailure: UpstreamFailure | undefined,
): Promise<UpstreamSuccess> {
  try {
    const target =
      tried.size < Math.max(1, call.route.route.maxAttempts)
        ? deps.selectCandidate(call.route, tried)
        : undefined;
    if (target === undefined) {
      throw lastFailure === undefined
        ? new RouterError('no_backend')
        : upstreamFailureError(lastFailure, call.requestSignal);
    }
    const attempt = call.stream ? attemptStream(deps, call, target) : attemptWhole(deps, call, target);
    return attempt.then((outcome) => {
      if (outcome.ok) return outcome.success;
      const { failure } = outcome;
      if (!failure.retrySafe) throw upstreamFailureError(failure, call.requestSignal);
      // The deadline may be due with its timer not run yet (a connect timeout as long as the time left
      // fires in the same turn): a failover now would send the next backend a request it cannot answer.
      if (call.requestSignal.remainingMs() <= 0) throw deadlinePassed(failure);
      call.log.warn(
        { backendId: target.backend.id, failure: failure.kind, errorCode: errorCodeOf(failure.cause) },
        'upstream attempt failed, trying next',
      );
      return nextAttempt(deps, call, new Set([...tried, target]), failure);
    });
  } catch (error: unknown) {
    // Rejects with what was thrown, as the async function this replaced did.
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    return Promise.reject(error);
  }
}

/** What the request signal aborts with at the deadline (request-signal.ts), for a deadline due first. */
function deadlinePassed(lastFailure: UpstreamFailure): RouterError {
  return new RouterError('upstream_timeout', {
    message: 'The request deadline passed before the backend finished.',
    cause: lastFailure.cause,
  });
}

/** The code of a failure's error (ECONNREFUSED, CERT_HAS_EXPIRED…): what an operator needs to act on. */
function errorCodeOf(cause: unknown): string | undefined {
  const code = (cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

type AttemptOutcome<Success> = { ok: true; success: Success } | { ok: false; failure: UpstreamFailure };

async function attemptStream(
  deps: CallUpstreamDeps,
  call: UpstreamCall,
  target: RuntimeTarget,
): Promise<AttemptOutcome<StreamedUpstreamSuccess>> {
  const { request, trace } = startAttempt(deps, call, target);
  const outcome = await deps.upstream.stream(request);
  if (!outcome.ok) return attemptFailed(deps, call, target, trace, outcome.failure);
  const { response } = outcome;
  if (!isSuccessStatus(response.statusCode)) {
    const body = await readStreamedErrorBody(response, call.requestSignal);
    throw statusFailed(deps, call, target, trace, response, body);
  }
  responded(deps, call, target);
  return { ok: true, success: { kind: 'stream', response, target, endTrace: (error) => trace.end(error) } };
}

/** Not async, for the reason given at nextAttempt: the attempt's work after the answer is a `then`. */
function attemptWhole(
  deps: CallUpstreamDeps,
  call: UpstreamCall,
  target: RuntimeTarget,
): Promise<AttemptOutcome<WholeUpstreamSuccess>> {
  const { request, trace } = startAttempt(deps, call, target);
  return deps.upstream
    .whole(request, (statusCode) =>
      isSuccessStatus(statusCode) ? call.maxResponseBytes : maxErrorBodyBytes(statusCode),
    )
    .then((outcome) => wholeAnswered(deps, call, target, trace, outcome));
}

function wholeAnswered(
  deps: CallUpstreamDeps,
  call: UpstreamCall,
  target: RuntimeTarget,
  trace: UpstreamTrace,
  outcome: UpstreamOutcome<UpstreamWholeResponse>,
): AttemptOutcome<WholeUpstreamSuccess> {
  if (!outcome.ok) return attemptFailed(deps, call, target, trace, outcome.failure);
  const { statusCode, body } = outcome.response;
  if (!isSuccessStatus(statusCode)) throw statusFailed(deps, call, target, trace, outcome.response, body);
  responded(deps, call, target);
  finishAttempt(deps, call.state, target.backend.id);
  if (!body.ok) {
    trace.end(body.error);
    throw body.error;
  }
  trace.end();
  const eventStream = isEventStreamBody(body.bytes, outcome.response.headers);
  return { ok: true, success: { kind: 'whole', body: body.bytes, eventStream, target } };
}

/** Starts an attempt's trace, builds its request, then starts its timing. */
function startAttempt(
  deps: CallUpstreamDeps,
  call: UpstreamCall,
  target: RuntimeTarget,
): { request: UpstreamRequest; trace: UpstreamTrace } {
  const { backend } = target;
  const { state } = call;
  const trace = startUpstreamTrace(deps.tracer, call.clientHeaders, 'upstream chat', deps.randomBytes);
  state.attempts += 1;
  state.backendId = backend.id;
  const remainingMs = call.requestSignal.remainingMs();
  const request: UpstreamRequest = {
    backend,
    path: call.path,
    method: 'POST',
    headers: buildUpstreamHeaders(call.clientHeaders, {
      backendToken: call.credentials.backendTokens.get(backend.id),
      traceHeaders: trace.headers,
      requestId: call.requestId,
      accept: call.accept,
    }),
    body: call.bodyFor(target),
    signal: call.requestSignal,
    headersTimeoutMs: Math.min(backend.firstByteTimeoutMs || remainingMs, remainingMs),
    // No body pause timer: the request signal aborts at the deadline, which bounds the body's pauses too.
  };
  // Upstream time starts once the request is built: serialising its body and headers is the router's work.
  state.attemptStartedAtMs = deps.now();
  return { request, trace };
}

function attemptFailed(
  deps: CallUpstreamDeps,
  call: UpstreamCall,
  target: RuntimeTarget,
  trace: UpstreamTrace,
  failure: UpstreamFailure,
): { ok: false; failure: UpstreamFailure } {
  finishAttempt(deps, call.state, target.backend.id, failure.kind);
  trace.end(failure.cause);
  return { ok: false, failure };
}

/** Ends an attempt answered with a non-2xx status; returns the error the request fails with. */
function statusFailed(
  deps: CallUpstreamDeps,
  call: UpstreamCall,
  target: RuntimeTarget,
  trace: UpstreamTrace,
  response: Pick<UpstreamResponse, 'statusCode' | 'headers'>,
  body: UpstreamWholeBody,
): unknown {
  const error = upstreamStatusError(response, body, call);
  finishAttempt(deps, call.state, target.backend.id, 'status_error');
  trace.end(error);
  return error;
}

/** A backend answered 2xx: the request consumed backend work (settlement charges for it). */
function responded(deps: CallUpstreamDeps, call: UpstreamCall, target: RuntimeTarget): void {
  call.state.responded = true;
  deps.metrics.countAttempt(target.backend.id, 'response');
}

/** Closes an attempt's timing: adds its duration to the request's upstream time and observes it. */
export function finishAttempt(
  deps: Pick<CallUpstreamDeps, 'metrics' | 'now'>,
  state: InferenceRequestState,
  backendId: string,
  outcome?: string,
): void {
  if (state.attemptStartedAtMs === undefined) return;
  const durationMs = deps.now() - state.attemptStartedAtMs;
  state.upstreamMs += durationMs;
  state.attemptStartedAtMs = undefined;
  deps.metrics.upstreamDurationSeconds.observe(durationMs / 1000, backendId);
  if (outcome !== undefined) deps.metrics.countAttempt(backendId, outcome);
}

function isSuccessStatus(statusCode: number): boolean {
  return statusCode >= 200 && statusCode < 300;
}

/**
 * 400 upstream_rejected for a backend's 400/413/422, with its reason (rejected-request.ts); else 502 with the
 * upstream status. The body excerpt is logged either way.
 */
function upstreamStatusError(
  { statusCode, headers }: Pick<UpstreamResponse, 'statusCode' | 'headers'>,
  body: UpstreamWholeBody,
  call: UpstreamCall,
): unknown {
  const signal = call.requestSignal;
  // A body not read (aborted, oversized, withheld): the status alone decides, unless an abort explains it.
  if ((!body.ok || mayEchoCredential(statusCode)) && signal.aborted) return signal.reason;
  call.log.warn(
    {
      backendId: call.state.backendId,
      upstreamStatus: statusCode,
      upstreamBody: errorBodyExcerpt(statusCode, body),
    },
    'upstream answered with an error status',
  );
  return (
    rejectedRequestError(statusCode, body) ??
    new RouterError('upstream_error', {
      message: `The model backend answered with status ${statusCode}.`,
      details: { upstream_status: statusCode },
      retryAfterSeconds: backendRetryAfterSeconds(statusCode, headers),
    })
  );
}
