import { AuditEventKind } from '@api-router/contracts';
import type { AdmitDenied } from '@api-router/limits';
import type { Principal } from '../auth/principal.js';
import type { AuditEventInit } from '../records/audit-recorder.js';
import { classifyDenial, denialNumbers, neverAdmittingCheck, retryAfterSeconds } from './limit-denial.js';

/** Who and what an admission audit event is about. */
export interface AuditSubject {
  readonly requestId: string;
  readonly principal: Principal;
  /** The admission id the store knows the request by (request id + a router-generated suffix). */
  readonly admissionId: string;
}

function base(subject: AuditSubject): Pick<AuditEventInit, 'requestId' | 'tenantId' | 'keyPublicId'> {
  return {
    requestId: subject.requestId,
    tenantId: subject.principal.tenantId,
    keyPublicId: subject.principal.keyId,
  };
}

/**
 * The audit event of a 402 (BUDGET_DENIED) or 429 (RATE_LIMITED) denial: reason = the denying limit's id,
 * attributes = the numbers the decision used (limit, remaining, reset, retry-after, decision time), the
 * HTTP status and, for a queue that was full, which bound (`queue_full`).
 */
export function denialAuditEvent(
  subject: AuditSubject,
  decision: AdmitDenied,
  extra: Readonly<Record<string, string>> = {},
): AuditEventInit {
  const budget = classifyDenial(decision) === 'budget';
  const never = budget ? undefined : neverAdmittingCheck(decision);
  return {
    ...base(subject),
    kind: budget ? AuditEventKind.BUDGET_DENIED : AuditEventKind.RATE_LIMITED,
    reasonCode: decision.deniedBy.id,
    message: budget
      ? `402 budget_exhausted: ${decision.deniedBy.id} cannot cover the request's maximum cost`
      : never === undefined
        ? `429 rate_limited: ${decision.deniedBy.kind} limit ${decision.deniedBy.id} exhausted`
        : `429 request_exceeds_limit: the request costs more than ${never.kind} limit ${never.id} ever grants at once`,
    attributes: {
      ...denialNumbers(decision),
      decision: 'denied',
      status: budget ? '402' : '429',
      retry_after_seconds: budget || never !== undefined ? '' : String(retryAfterSeconds(decision)),
      admission_id: subject.admissionId,
      ...extra,
    },
  };
}

/** QUEUED: a request denied by concurrency alone starts waiting (max wait, which limit it waits for). */
export function queuedAuditEvent(
  subject: AuditSubject,
  decision: AdmitDenied,
  maxWaitMs: number,
): AuditEventInit {
  return {
    ...base(subject),
    kind: AuditEventKind.QUEUED,
    reasonCode: decision.deniedBy.id,
    message: `queued for a concurrency slot of ${decision.deniedBy.id}, up to ${maxWaitMs} ms`,
    attributes: {
      ...denialNumbers(decision),
      decision: 'queued',
      max_wait_ms: String(maxWaitMs),
      admission_id: subject.admissionId,
    },
  };
}

/** QUEUE_ADMITTED or QUEUE_TIMED_OUT: how a wait ended and how long it took. */
export function queueOutcomeAuditEvent(
  subject: AuditSubject,
  outcome: 'admitted' | 'timed_out',
  limitId: string,
  waitedMs: number,
  extra: Readonly<Record<string, string>> = {},
): AuditEventInit {
  const admitted = outcome === 'admitted';
  return {
    ...base(subject),
    kind: admitted ? AuditEventKind.QUEUE_ADMITTED : AuditEventKind.QUEUE_TIMED_OUT,
    reasonCode: limitId,
    message: admitted
      ? `admitted after ${Math.round(waitedMs)} ms in the queue`
      : `429 rate_limited: no slot of ${limitId} within ${Math.round(waitedMs)} ms in the queue`,
    attributes: {
      decision: admitted ? 'queue_admitted' : 'queue_timed_out',
      limit_id: limitId,
      waited_ms: String(Math.round(waitedMs)),
      admission_id: subject.admissionId,
      ...extra,
    },
  };
}

/** How a wait ended without an admission or a limit's answer (QUEUE_ABANDONED's `outcome`). */
export type QueueAbandonment = 'client_closed' | 'failed' | 'shutdown';

/**
 * QUEUE_ABANDONED: a wait that ended without an admission or a limit's answer — the client left, a retry
 * failed, the replica shut down — so that the request's audit trail does not stop at QUEUED as if it still
 * waited. `status` is what the request was answered (499 when its client left).
 */
export function queueAbandonedAuditEvent(
  subject: AuditSubject,
  outcome: QueueAbandonment,
  init: { readonly limitId: string; readonly waitedMs: number; readonly status: number },
  extra: Readonly<Record<string, string>> = {},
): AuditEventInit {
  const waitedMs = Math.round(init.waitedMs);
  const why =
    outcome === 'client_closed'
      ? 'the client left'
      : outcome === 'shutdown'
        ? 'the router shut down'
        : 'a retry failed';
  return {
    ...base(subject),
    kind: AuditEventKind.QUEUE_ABANDONED,
    reasonCode: init.limitId,
    message: `${init.status}: ${why} after ${waitedMs} ms in the queue for ${init.limitId}`,
    attributes: {
      decision: 'queue_abandoned',
      outcome,
      status: String(init.status),
      limit_id: init.limitId,
      waited_ms: String(waitedMs),
      admission_id: subject.admissionId,
      ...extra,
    },
  };
}
