import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Backend } from '@api-router/contracts';
import { RouterError } from '@api-router/errors';
import type { RuntimePolicy, RuntimeRoute } from '@api-router/policy';
import { mayUseModel } from '../auth/principal.js';
import type { ResolvedCredentials } from '../credentials/credential-resolver.js';
import { keepSocketOpenUntilDeadline } from '../http/socket-idle-timeout.js';
import type { InferenceMetrics } from '../metrics/inference-metrics.js';
import type { Clock } from '../clock.js';
import type { AuditRecorder } from '../records/audit-recorder.js';
import { modelDeniedEvent } from '../records/denial-events.js';
import type { UsageRecorder } from '../records/usage-recorder.js';
import type { Timers } from '../timers.js';
import type { ProviderAdapter } from '../upstream/adapters/provider-adapter.js';
import type { AdmissionController } from '../admission/admission-controller.js';
import type { CostRequest } from '../admission/admission-costs.js';
import type { Admission } from '../admission/admission-ticket.js';
import type { CallUpstreamDeps } from './call-upstream.js';
import { admitSession } from './admit-session.js';
import { createRequestSignal, type RequestSignal } from './request-signal.js';
import type { InferenceRequestState } from './request-state.js';

/** What the inference handlers need, built once in the composition root. */
export interface InferenceHandlerDeps {
  readonly callUpstream: CallUpstreamDeps;
  readonly adapterFor: (backend: Backend) => ProviderAdapter;
  readonly timers: Timers;
  /** Monotonic milliseconds (performance.now). */
  readonly now: () => number;
  readonly metrics: InferenceMetrics;
  /** Largest JSON upstream response, or single stream event, relayed, in bytes (DP_MAX_UPSTREAM_RESPONSE_BYTES). */
  readonly maxUpstreamResponseBytes: number;
  /** Durable audit events and usage records (the outbox); each resolves once on disk. */
  readonly records: { readonly audit: AuditRecorder; readonly usage: UsageRecorder };
  /** Wall clock, for record timestamps. */
  readonly clock: Clock;
  /** Limits, budgets and the fair queue. */
  readonly admission: AdmissionController;
}

/** The policy and credentials a request is served with: captured once, at arrival. */
export interface RequestPolicy {
  readonly policy: RuntimePolicy;
  readonly credentials: ResolvedCredentials;
}

/** One authenticated request on its way to a backend. */
export interface InferenceSession {
  readonly state: InferenceRequestState;
  readonly policy: RuntimePolicy;
  readonly credentials: ResolvedCredentials;
  readonly route: RuntimeRoute;
  readonly requestSignal: RequestSignal;
  /** The request's admission: rate-limit headers, queue wait, output cap. */
  readonly admission: Admission;
  /**
   * Call when the request is over: ends the admission (settles with the usage in `state` when a backend
   * answered 2xx, else releases), releases the deadline timer and the disconnect listener.
   */
  end(): void;
}

/**
 * Opens a session for `cost.model`: refuses a model the key may not use (403 model_not_allowed — checked
 * first, so a restricted key cannot probe which models exist) or one no route serves (404
 * model_not_found), then arms the request deadline (route timeout, else the policy default, counted from
 * arrival) and the client-disconnect abort, then admits the request against its limits (402, 429 or a wait
 * in the fair queue; see admitSession). Refusals are audited durably before they are thrown.
 */
export async function openSession(
  deps: InferenceHandlerDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  cost: CostRequest,
): Promise<InferenceSession> {
  const { model } = cost;
  const state = inferenceState(request);
  const { policy, credentials } = requestPolicy(request);
  if (state.principal === undefined || !mayUseModel(state.principal, model)) {
    await auditModelDenial(deps, request, 'model_not_allowed', model);
    throw new RouterError('model_not_allowed', { message: `This key may not use the model "${model}".` });
  }
  const route = policy.routesByModel.get(model);
  if (route === undefined) {
    await auditModelDenial(deps, request, 'model_not_found', model);
    throw new RouterError('model_not_found', { message: `The model "${model}" does not exist.` });
  }
  state.routeId = route.route.id;
  const timeoutMs = route.route.requestTimeoutMs || policy.settings.defaultRequestTimeoutMs;
  keepSocketOpenUntilDeadline(request.raw.socket, timeoutMs);
  // The signal counts its own abort (deps.metrics); the response's close listener, added when the request
  // began, aborts it when the client leaves (state.requestSignal). No listener or closure of the session's
  // own lives as long as the request.
  const requestSignal = createRequestSignal(deps, state.startedAtMs + timeoutMs);
  state.requestSignal = requestSignal;
  // A client that left before now (e.g. while a signature's nonce was claimed) found no signal to abort.
  if (reply.raw.destroyed) requestSignal.clientClosed();
  let admission: Admission;
  try {
    admission = await admitSession(deps.admission, request, reply, {
      state,
      policy,
      route,
      requestSignal,
      cost,
    });
  } catch (error: unknown) {
    disarm(state, requestSignal);
    throw error;
  }
  return new OpenSession(state, policy, credentials, route, requestSignal, admission);
}

/** A session's state and methods in one object (its `end` on the prototype, not a closure per request). */
class OpenSession implements InferenceSession {
  constructor(
    readonly state: InferenceRequestState,
    readonly policy: RuntimePolicy,
    readonly credentials: ResolvedCredentials,
    readonly route: RuntimeRoute,
    readonly requestSignal: RequestSignal,
    readonly admission: Admission,
  ) {}

  end(): void {
    const { state } = this;
    this.admission.finish(
      state.responded
        ? { responded: true, backendId: state.backendId ?? '', usage: state.usage }
        : { responded: false },
    );
    disarm(state, this.requestSignal);
  }
}

/** Releases the deadline timer and detaches the signal from the response's close listener. */
function disarm(state: InferenceRequestState, requestSignal: RequestSignal): void {
  requestSignal.dispose();
  state.requestSignal = undefined;
}

function auditModelDenial(
  deps: InferenceHandlerDeps,
  request: FastifyRequest,
  code: 'model_not_allowed' | 'model_not_found',
  model: string,
): Promise<void> {
  const principal = inferenceState(request).principal;
  return deps.records.audit.record(
    modelDeniedEvent(
      { requestId: request.id, method: request.method, route: request.routeOptions.url ?? '' },
      { code, model, keyPublicId: principal?.keyId ?? '', tenantId: principal?.tenantId ?? '' },
    ),
  );
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the inference routes' onRequest hook; null elsewhere. */
    inferenceState: InferenceRequestState | null;
    /** Set by the inference routes' onRequest hook; null elsewhere. */
    requestPolicy: RequestPolicy | null;
  }
}

export function inferenceState(request: FastifyRequest): InferenceRequestState {
  if (request.inferenceState === null)
    throw new Error('inference state missing: route registered outside the inference scope');
  return request.inferenceState;
}

export function requestPolicy(request: FastifyRequest): RequestPolicy {
  if (request.requestPolicy === null)
    throw new Error('request policy missing: route registered outside the inference scope');
  return request.requestPolicy;
}
