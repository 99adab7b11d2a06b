import { AuditEventKind } from '@api-router/contracts';
import type { AuthFailureReason } from '../auth/auth-failure-reason.js';
import type { AuditEventInit } from './audit-recorder.js';

/** Where a denied request was going, for the event's attributes. */
export interface DeniedRequest {
  readonly requestId: string;
  readonly method: string;
  /** The route's path pattern (e.g. /v1/chat/completions): never the raw URL, whose query could hold anything. */
  readonly route: string;
}

/**
 * AUTH_DENIED for a 401: reason code = the internal failure reason (the client only ever sees one generic
 * body), key public id and tenant only when the presented key id is one the policy knows the shape of.
 * Never the key secret, the Authorization header or the signature.
 */
export function authDeniedEvent(
  request: DeniedRequest,
  failure: { reason: AuthFailureReason; keyPublicId?: string | undefined; tenantId?: string | undefined },
): AuditEventInit {
  return {
    kind: AuditEventKind.AUTH_DENIED,
    requestId: request.requestId,
    ...(failure.keyPublicId === undefined ? {} : { keyPublicId: failure.keyPublicId }),
    ...(failure.tenantId === undefined ? {} : { tenantId: failure.tenantId }),
    reasonCode: failure.reason,
    message: `401 unauthenticated: ${failure.reason}`,
    attributes: {
      decision: 'denied',
      status: '401',
      auth_failure: failure.reason,
      method: request.method,
      route: request.route,
    },
  };
}

/**
 * MODEL_DENIED for a 403 model_not_allowed (the key may not use the model) or a 404 model_not_found (no
 * route serves it): both refuse an authenticated caller a model, so both are audited, told apart by the
 * reason code (the error code).
 */
export function modelDeniedEvent(
  request: DeniedRequest,
  denial: {
    code: 'model_not_allowed' | 'model_not_found';
    model: string;
    keyPublicId: string;
    tenantId: string;
  },
): AuditEventInit {
  const status = denial.code === 'model_not_allowed' ? '403' : '404';
  return {
    kind: AuditEventKind.MODEL_DENIED,
    requestId: request.requestId,
    keyPublicId: denial.keyPublicId,
    tenantId: denial.tenantId,
    reasonCode: denial.code,
    message: `${status} ${denial.code}: model "${denial.model}"`,
    attributes: {
      decision: 'denied',
      status,
      model: denial.model,
      method: request.method,
      route: request.route,
    },
  };
}
