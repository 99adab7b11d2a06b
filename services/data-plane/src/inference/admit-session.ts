import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RuntimePolicy, RuntimeRoute } from '@api-router/policy';
import type { AdmissionController } from '../admission/admission-controller.js';
import type { CostRequest } from '../admission/admission-costs.js';
import type { Admission } from '../admission/admission-ticket.js';
import type { RequestSignal } from './request-signal.js';
import type { InferenceRequestState } from './request-state.js';

/** The parts of an opening session that admission needs. */
export interface SessionForAdmission {
  readonly state: InferenceRequestState;
  readonly policy: RuntimePolicy;
  readonly route: RuntimeRoute;
  readonly requestSignal: RequestSignal;
  readonly cost: CostRequest;
}

/**
 * Admits an authenticated, routed request before any upstream call: sets its `x-ratelimit-*` headers on the
 * reply (denials included: the error handler keeps them) and its queue wait in the request state. Rejects
 * with the admission's error (402, 429, 503, or the signal's reason when the client left while queued).
 */
export async function admitSession(
  controller: AdmissionController,
  request: FastifyRequest,
  reply: FastifyReply,
  session: SessionForAdmission,
): Promise<Admission> {
  const { state } = session;
  if (state.principal === undefined) throw new Error('admission before authentication');
  const admission = await controller.admit({
    requestId: request.id,
    principal: state.principal,
    policy: session.policy,
    route: session.route,
    cost: session.cost,
    signal: session.requestSignal,
    remainingMs: () => session.requestSignal.remainingMs(),
    onHeaders: (headers) => {
      reply.headers(headers);
    },
    log: request.log,
  });
  state.queueMs = admission.queueMs;
  return admission;
}
