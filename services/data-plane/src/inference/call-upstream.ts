import type { IncomingHttpHeaders } from 'node:http';
import type { Tracer } from '@opentelemetry/api';
import type { FastifyBaseLogger } from 'fastify';
import { RouterError } from '@api-router/errors';
import type { RuntimeRoute, RuntimeTarget } from '@api-router/policy';
import type { ResolvedCredentials } from '../credentials/credential-resolver.js';
import type { InferenceMetrics } from '../metrics/inference-metrics.js';
import type { CandidateSelector } from '../routing/candidate-selector.js';
import { buildUpstreamHeaders } from '../upstream/forward-headers.js';
import { readUpstreamBody } from '../upstream/read-upstream-body.js';
import { startUpstreamTrace } from '../upstream/trace-context.js';
import type { UpstreamClient, UpstreamFailure, UpstreamResponse } from '../upstream/upstream-client.js';
import type { RandomBytes } from '../random-pool.js';
import type { RequestSignal } from './request-signal.js';
import type { InferenceRequestState } from './request-state.js';

export interface CallUpstreamDeps {
  upstream: UpstreamClient;
  selectCandidate: CandidateSelector;
  tracer: Tracer;
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
  readonly requestSignal: RequestSignal;
  readonly state: InferenceRequestState;
  /** The request's logger (request id bound). */
  readonly log: Pick<FastifyBaseLogger, 'warn'>;
}

/** A 2xx upstream response and the target that produced it. Its body is not read yet. */
export interface UpstreamSuccess {
  readonly response: UpstreamResponse;
  readonly target: RuntimeTarget;
  /** Ends the attempt's trace span; call once the response body is done. */
  readonly endTrace: (error?: unknown) => void;
}

/** Most bytes of an upstream error body read, for the log line. */
const MAX_ERROR_BODY_BYTES = 4096;

/**
 * Sends the request to the route's backends: a first choice by weight, then — only after a failure that
 * certainly never reached a backend (connect refused or timed out) — the next candidate, up to the route's
 * max_attempts. Any other failure ends the request: no response before the first-byte timeout or the
 * deadline → 504; a broken connection or a non-2xx status → 502 (the upstream body is logged, not relayed);
 * the client leaving → the ClientClosedError. No candidate at all → 503 no_backend.
 */
export async function callUpstream(deps: CallUpstreamDeps, call: UpstreamCall): Promise<UpstreamSuccess> {
  const maxAttempts = Math.max(1, call.route.route.maxAttempts);
  const tried = new Set<RuntimeTarget>();
  let lastFailure: UpstreamFailure | undefined;
  while (tried.size < maxAttempts) {
    const target = deps.selectCandidate(call.route, tried);
    if (target === undefined) break;
    tried.add(target);
    const outcome = await attempt(deps, call, target);
    if (outcome.ok) return outcome.success;
    lastFailure = outcome.failure;
    if (!lastFailure.retrySafe) break;
    call.log.warn(
      { backendId: target.backend.id, failure: lastFailure.kind },
      'upstream attempt failed, trying next',
    );
  }
  if (lastFailure === undefined) throw new RouterError('no_backend');
  throw failureError(lastFailure, call.requestSignal.signal);
}

type AttemptOutcome = { ok: true; success: UpstreamSuccess } | { ok: false; failure: UpstreamFailure };

async function attempt(
  deps: CallUpstreamDeps,
  call: UpstreamCall,
  target: RuntimeTarget,
): Promise<AttemptOutcome> {
  const { backend } = target;
  const { state } = call;
  const trace = startUpstreamTrace(deps.tracer, call.clientHeaders, 'upstream chat', deps.randomBytes);
  state.attempts += 1;
  state.backendId = backend.id;
  state.attemptStartedAtMs = deps.now();
  const remainingMs = call.requestSignal.remainingMs();
  const outcome = await deps.upstream({
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
    signal: call.requestSignal.signal,
    headersTimeoutMs: Math.min(backend.firstByteTimeoutMs || remainingMs, remainingMs),
    bodyTimeoutMs: Math.max(1, remainingMs),
  });
  if (!outcome.ok) {
    finishAttempt(deps, state, backend.id, outcome.failure.kind);
    trace.end(outcome.failure.cause);
    return { ok: false, failure: outcome.failure };
  }
  const { response } = outcome;
  if (response.statusCode < 200 || response.statusCode >= 300) {
    const error = await upstreamStatusError(response, call);
    finishAttempt(deps, state, backend.id, 'status_error');
    trace.end(error);
    throw error;
  }
  state.responded = true;
  deps.metrics.upstreamAttemptsTotal.inc({ backend: backend.id, outcome: 'response' });
  return { ok: true, success: { response, target, endTrace: (error) => trace.end(error) } };
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
  deps.metrics.upstreamDurationSeconds.observe({ backend: backendId }, durationMs / 1000);
  if (outcome !== undefined) deps.metrics.upstreamAttemptsTotal.inc({ backend: backendId, outcome });
}

async function upstreamStatusError(response: UpstreamResponse, call: UpstreamCall): Promise<unknown> {
  let excerpt = '';
  // An authentication error body may echo (part of) the backend credential we sent: never log it.
  const mayEchoCredential = response.statusCode === 401 || response.statusCode === 403;
  try {
    if (mayEchoCredential) {
      response.body.destroy();
      throw new Error('not logged for an authentication error');
    }
    excerpt = (await readUpstreamBody(response.body, MAX_ERROR_BODY_BYTES, call.requestSignal.signal))
      .toString('utf8')
      .slice(0, 500);
  } catch (error: unknown) {
    // Aborted or oversized: the status alone decides; an abort still wins below.
    if (call.requestSignal.signal.aborted) return call.requestSignal.signal.reason;
    excerpt = error instanceof Error ? `(body unreadable: ${error.message})` : '(body unreadable)';
  }
  call.log.warn(
    { backendId: call.state.backendId, upstreamStatus: response.statusCode, upstreamBody: excerpt },
    'upstream answered with an error status',
  );
  return new RouterError('upstream_error', {
    message: `The model backend answered with status ${response.statusCode}.`,
    details: { upstream_status: response.statusCode },
  });
}

function failureError(failure: UpstreamFailure, signal: AbortSignal): unknown {
  switch (failure.kind) {
    case 'aborted':
      return signal.reason;
    case 'connect_timeout':
      return new RouterError('upstream_timeout', {
        message: 'Could not connect to a model backend in time.',
        cause: failure.cause,
      });
    case 'first_byte_timeout':
      return new RouterError('upstream_timeout', {
        message: 'The model backend did not start answering in time.',
        cause: failure.cause,
      });
    case 'connect_failed':
      return new RouterError('upstream_error', {
        message: 'Could not connect to a model backend.',
        cause: failure.cause,
      });
    case 'network':
      return new RouterError('upstream_error', {
        message: 'The connection to the model backend failed.',
        cause: failure.cause,
      });
  }
}
