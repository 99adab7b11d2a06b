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
 * RATE_LIMITED for a 429 refused while authenticating, before admission (a key over its share of the
 * in-process nonce store): reason code = the limit the refusal names, the key and tenant when the policy
 * has the key (the refusal comes after its signature verified).
 */
export function authRateLimitedEvent(
  request: DeniedRequest,
  denial: {
    limit: string;
    keyPublicId?: string | undefined;
    tenantId?: string | undefined;
    retryAfterSeconds?: number | undefined;
  },
): AuditEventInit {
  return {
    kind: AuditEventKind.RATE_LIMITED,
    requestId: request.requestId,
    ...(denial.keyPublicId === undefined ? {} : { keyPublicId: denial.keyPublicId }),
    ...(denial.tenantId === undefined ? {} : { tenantId: denial.tenantId }),
    reasonCode: denial.limit,
    message: `429 rate_limited: ${denial.limit}`,
    attributes: {
      decision: 'denied',
      status: '429',
      retry_after_seconds:
        denial.retryAfterSeconds === undefined ? '' : String(Math.ceil(denial.retryAfterSeconds)),
      method: request.method,
      route: request.route,
    },
  };
}

/**
 * Longest model name an event carries, in UTF-16 code units (the OpenAI route's schema limit). A 404's
 * model is whatever the client sent (/v1/inference bounds it only by the body limit); written twice, a
 * long one made an event over Kafka's default 1 MB message limit, which the broker refuses on every retry
 * while every later record waits behind it. A longer name is cut here and ends with `…`.
 */
export const MAX_AUDITED_MODEL_LENGTH = 200;

/**
 * MODEL_DENIED for a 403 model_not_allowed (the key may not use the model) or a 404 model_not_found (no
 * route serves it): both refuse an authenticated caller a model, so both are audited, told apart by the
 * reason code (the error code). The model name is cut to {@link MAX_AUDITED_MODEL_LENGTH}.
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
  const model = auditedModel(denial.model);
  return {
    kind: AuditEventKind.MODEL_DENIED,
    requestId: request.requestId,
    keyPublicId: denial.keyPublicId,
    tenantId: denial.tenantId,
    reasonCode: denial.code,
    message: `${status} ${denial.code}: model "${model}"`,
    attributes: {
      decision: 'denied',
      status,
      model,
      method: request.method,
      route: request.route,
    },
  };
}

/** `model`, or its first {@link MAX_AUDITED_MODEL_LENGTH} code units and `…` (never half a surrogate pair). */
function auditedModel(model: string): string {
  if (model.length <= MAX_AUDITED_MODEL_LENGTH) return model;
  let end = MAX_AUDITED_MODEL_LENGTH;
  const last = model.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${model.slice(0, end)}…`;
}
