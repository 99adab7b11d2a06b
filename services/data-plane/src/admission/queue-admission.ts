import { RouterError } from '@api-router/errors';
import type { AdmitDenied } from '@api-router/limits';
import type { ResolvedQueuePolicy } from '@api-router/policy';
import type { AdmissionMetrics } from '../metrics/admission-metrics.js';
import type { AuditEventInit, AuditRecorder } from '../records/audit-recorder.js';
import {
  denialAuditEvent,
  queuedAuditEvent,
  queueOutcomeAuditEvent,
  type AuditSubject,
} from './admission-audit.js';
import type { DecisionContext, StoreDecision } from './admission-controller.js';
import type { FairQueue, QueueAttempt, QueueBounds, QueueOutcome } from './fair-queue.js';
import { classifyDenial, denialError } from './limit-denial.js';
import { rateLimitHeaders } from './rate-limit-headers.js';

export interface QueueAdmissionDeps {
  readonly queue: FairQueue<StoreDecision>;
  readonly audit: AuditRecorder;
  readonly metrics: AdmissionMetrics;
  /** One admission attempt against the store (shared, or the local share while degraded). */
  readonly decide: (context: DecisionContext) => Promise<StoreDecision>;
  /** Releases an admission nobody will use (the request left while its retry was in flight). */
  readonly release: (result: StoreDecision) => void;
}

/** A wait that ended with a store decision: admitted, or denied by something other than concurrency. */
export interface QueuedResult {
  readonly result: StoreDecision;
  readonly waitedMs: number;
}

/**
 * Waits in the fair queue for a request denied by concurrency alone (the caller checked the policy allows
 * queueing). The wait is bounded by the policy's max wait and the time left before the request deadline.
 * Audited durably: QUEUED before waiting, QUEUE_ADMITTED once admitted, QUEUE_TIMED_OUT before the 429 of
 * a wait that ran out, RATE_LIMITED (`queue_full`) before the 429 of a full queue. Resolves with the final
 * store decision (the caller answers a non-concurrency denial met while waiting); rejects with the
 * RouterError of a full or timed-out queue, the request signal's reason (client gone, deadline), the
 * store's or the audit outbox's failure, or 503 when the replica shuts down.
 */
export async function waitInQueue(
  deps: QueueAdmissionDeps,
  context: DecisionContext,
  queuePolicy: ResolvedQueuePolicy,
  first: StoreDecision & { readonly decision: AdmitDenied },
): Promise<QueuedResult> {
  const { input, limits } = context;
  const denied = first.decision;
  const ending: WaitEnding = {
    subject: { requestId: input.requestId, principal: input.principal, admissionId: first.admissionId },
    denied,
    refuse: async (event) => {
      input.onHeaders(rateLimitHeaders(denied.checks, denied.decidedAtMs, limits.headerOwners));
      await deps.audit.record(event);
      throw denialError(denied);
    },
  };
  const bounds: QueueBounds = {
    tenantId: input.principal.tenantId,
    keyId: input.principal.keyId,
    tenantMaxLength: queuePolicy.tenantMaxLength,
    keyMaxLength: queuePolicy.keyMaxLength,
  };
  const full = deps.queue.fullBound(bounds);
  if (full !== undefined) return answerOutcome(deps, ending, { kind: 'full', bound: full });
  const maxWaitMs = Math.max(0, Math.min(queuePolicy.maxWaitMs, input.remainingMs()));
  await deps.audit.record(queuedAuditEvent(ending.subject, denied, maxWaitMs));
  deps.metrics.decisionsTotal.inc({ kind: 'concurrency', outcome: 'queued' });
  const outcome = await deps.queue.wait({
    ...bounds,
    maxWaitMs,
    signal: input.signal,
    attempt: async (): Promise<QueueAttempt<StoreDecision>> => {
      const result = await deps.decide(context);
      const blocked = !result.decision.allowed && classifyDenial(result.decision) === 'concurrency';
      return blocked ? { done: false } : { done: true, value: result };
    },
    discard: deps.release,
  });
  return answerOutcome(deps, ending, outcome);
}

/** What the end of a wait needs: who it is about, the first denial, and how to answer 429 for it. */
interface WaitEnding {
  readonly subject: AuditSubject;
  readonly denied: AdmitDenied;
  /** Sets the denial's rate-limit headers, appends `event` durably, throws the denial's 429. */
  readonly refuse: (event: AuditEventInit) => Promise<never>;
}

/** Turns how a wait ended into the admission's result or error (see waitInQueue), with metrics and audit. */
async function answerOutcome(
  deps: QueueAdmissionDeps,
  ending: WaitEnding,
  outcome: QueueOutcome<StoreDecision>,
): Promise<QueuedResult> {
  const { subject, denied } = ending;
  const observe = (label: string, waitedMs: number): void =>
    deps.metrics.queueWaitSeconds.observe({ outcome: label }, waitedMs / 1000);
  switch (outcome.kind) {
    case 'admitted': {
      const { value, waitedMs } = outcome;
      observe(value.decision.allowed ? 'admitted' : 'denied', waitedMs);
      if (!value.decision.allowed) return { result: value, waitedMs };
      deps.metrics.decisionsTotal.inc({ kind: 'concurrency', outcome: 'queue_admitted' });
      const admittedSubject = { ...subject, admissionId: value.admissionId };
      try {
        await deps.audit.record(
          queueOutcomeAuditEvent(admittedSubject, 'admitted', denied.deniedBy.id, waitedMs),
        );
      } catch (error: unknown) {
        deps.release(value);
        throw error;
      }
      return { result: value, waitedMs };
    }
    case 'timed_out':
      observe('timed_out', outcome.waitedMs);
      deps.metrics.decisionsTotal.inc({ kind: 'concurrency', outcome: 'queue_timed_out' });
      return ending.refuse(
        queueOutcomeAuditEvent(subject, 'timed_out', denied.deniedBy.id, outcome.waitedMs),
      );
    case 'full':
      deps.metrics.decisionsTotal.inc({ kind: 'concurrency', outcome: 'queue_full' });
      return ending.refuse(denialAuditEvent(subject, denied, { queue_full: outcome.bound }));
    case 'aborted':
      observe('aborted', outcome.waitedMs);
      throw outcome.reason;
    case 'failed':
      observe('failed', outcome.waitedMs);
      throw outcome.error;
    case 'closed':
      observe('closed', outcome.waitedMs);
      throw new RouterError('not_ready', { message: 'The router is shutting down.' });
  }
}
