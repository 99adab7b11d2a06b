import type { FastifyRequest } from 'fastify';
import type { RuntimeTarget } from '@api-router/policy';
import { startRequestUsage, type RequestUsage } from '../records/request-usage.js';
import { callUpstream, type UpstreamSuccess } from './call-upstream.js';
import type { InferenceHandlerDeps, InferenceSession } from './inference-session.js';

/** What differs between the router's API and the OpenAI-compatible one once a request is admitted. */
export interface AdmittedCallInit {
  readonly model: string;
  readonly stream: boolean;
  /** The backend wire body for a target (its upstream model differs per target). */
  readonly bodyFor: (target: RuntimeTarget) => string;
}

export interface AdmittedCall {
  /** The request's one usage record, durable before the response completes. */
  readonly usage: RequestUsage;
  /**
   * Calls the backends of the session's route (failover within the route's attempts). A stream's answer
   * comes streamed (`kind: 'stream'`), any other's read whole (`kind: 'whole'`).
   */
  upstream(): Promise<UpstreamSuccess>;
}

/**
 * From here on the request is admitted: it gets exactly one usage record (its cost agreeing with what the
 * admission settles) and an upstream call on the session's route, credentials, deadline and state.
 */
export function startAdmittedCall(
  deps: InferenceHandlerDeps,
  session: InferenceSession,
  request: FastifyRequest,
  init: AdmittedCallInit,
): AdmittedCall {
  const usage = startRequestUsage(deps, {
    requestId: request.id,
    model: init.model,
    streamed: init.stream,
    policy: session.policy,
    state: session.state,
    reservedCostMicros: session.admission.reservedCostMicros,
  });
  return new SessionCall(deps, session, request, init, usage);
}

/** An admitted call's parts and its `upstream` method in one object (not a closure per request). */
class SessionCall implements AdmittedCall {
  constructor(
    private readonly deps: InferenceHandlerDeps,
    private readonly session: InferenceSession,
    private readonly request: FastifyRequest,
    private readonly init: AdmittedCallInit,
    readonly usage: RequestUsage,
  ) {}

  upstream(): Promise<UpstreamSuccess> {
    const { deps, session, request, init } = this;
    return callUpstream(deps.callUpstream, {
      route: session.route,
      credentials: session.credentials,
      clientHeaders: request.headers,
      requestId: request.id,
      path: '/chat/completions',
      bodyFor: init.bodyFor,
      accept: init.stream ? 'text/event-stream' : 'application/json',
      stream: init.stream,
      maxResponseBytes: deps.maxUpstreamResponseBytes,
      requestSignal: session.requestSignal,
      state: session.state,
      log: request.log,
    });
  }
}
