import { RouterError, toRouterError } from '@api-router/errors';
import { CONCURRENCY_RETRY_HINT_MS, type AdmitDenied, type LimitPlan } from '@api-router/limits';
import type { ResolvedQueuePolicy } from '@api-router/policy';
import { CLIENT_CLOSED_STATUS } from '../inference/request-signal.js';
import type { AdmissionMetrics } from '../metrics/admission-metrics.js';
import type { AuditEventInit, AuditRecorder } from '../records/audit-recorder.js';
import {
  denialAuditEvent,
  queueAbandonedAuditEvent,
  queuedAuditEvent,
  queueOutcomeAuditEvent,
  type AuditSubject,
  type QueueAbandonment,
} from './admission-audit.js';
import type { DecisionContext, StoreDecision } from './admission-controller.js';
import type { FairQueue, QueueAttempt, QueueBounds, QueueOutcome } from './fair-queue.js';
import { classifyDenial, denialError } from './limit-denial.js';
import type { KeyLimits } from './limit-plan-cache.js';
import { rateLimitHeaders } from './rate-limit-headers.js';

export interface QueueAdmissionDeps {
  readonly queue: FairQueue<StoreDecision>;
  readonly audit: AuditRecorder;
  readonly metrics: AdmissionMetrics;
  /** One admission attempt against the store (shared, or the local share while degraded). */
  readonly decide: (context: DecisionContext) => Promise<StoreDecision>;
  /**
   * The context a queued request is retried with: its limits under the newest policy this replica admits
   * under (a policy applied while it waits raises, lowers or removes the limit it waits for).
   */
  readonly current: (context: DecisionContext) => DecisionContext;
  /** Releases an admission nobody will use (the request left while its retry was in flight). */
  readonly release: (result: StoreDecision) => void;
}

/** A wait that ended with a store decision: admitted, or denied by something other than concurrency. */
export interface QueuedResult {
  readonly result: StoreDecision;
  readonly waitedMs: number;
  /** The context of the decision (a retry's limits may come from a newer policy than the request's). */
  readonly context: DecisionContext;
}

/**
 * The store decision of a request, in queue order. When its policy allows queueing and requests on this
 * replica already wait for one of its concurrency limits, it queues behind them **without trying the
 * store** (else it could take the slot freed for the oldest waiting request, again and again); otherwise
 * one store decision, and a denial by concurrency alone waits in the queue (see waitInQueue). Resolves with
 * the final decision (allowed, or denied by something the caller answers) and the time spent queued.
 */
export async function decideInQueueOrder(
  deps: QueueAdmissionDeps,
  context: DecisionContext,
): Promise<QueuedResult> {
  const { queuePolicy } = context.limits;
  if (queuePolicy === undefined) return { result: await deps.decide(context), waitedMs: 0, context };
  const ahead =
    deps.queue.length === 0 ? undefined : deps.queue.waitingFor(concurrencyIds(context.limits.plan));
  if (ahead !== undefined) {
    const first = { denied: queuedBehindDenial(context.limits, ahead), admissionId: '', behind: true };
    return waitInQueue(deps, context, queuePolicy, first);
  }
  const result = await deps.decide(context);
  const { decision } = result;
  if (decision.allowed || classifyDenial(decision) !== 'concurrency') return { result, waitedMs: 0, context };
  return waitInQueue(deps, context, queuePolicy, {
    denied: decision,
    admissionId: result.admissionId,
    behind: false,
  });
}

function* concurrencyIds(plan: LimitPlan): Iterable<string> {
  for (const check of plan.checks) {
    if (check.kind === 'concurrency') yield check.id;
  }
}

/**
 * The denial a request queued behind others stands on: it never asked the store, so the numbers are the
 * policy's (the limit's max, none remaining, the store's concurrency retry hint, the router's clock) and it
 * carries no rate-limit checks (no x-ratelimit headers until the request has its own decision).
 */
function queuedBehindDenial(limits: KeyLimits, limitId: string): AdmitDenied {
  const check = limits.plan.checks.find((candidate) => candidate.id === limitId);
  return {
    allowed: false,
    decidedAtMs: Date.now(),
    deniedBy: { kind: 'concurrency', id: limitId },
    retryAfterMs: CONCURRENCY_RETRY_HINT_MS,
    remaining: 0,
    resetAtMs: null,
    limit: check?.kind === 'concurrency' ? check.max : 0,
    checks: [],
  };
}

/** Why a request starts waiting: its own concurrency denial, or (`behind`) requests queued before it. */
interface QueueStart {
  readonly denied: AdmitDenied;
  /** The admission id of the denied decision; empty when the request never asked the store. */
  readonly admissionId: string;
  /** True when the request queued behind waiting requests without asking the store. */
  readonly behind: boolean;
}

/**
 * Waits in the fair queue for a request denied by concurrency alone, or queued behind requests waiting for
 * one of its concurrency limits (the caller checked the policy allows queueing). The wait is bounded by the
 * policy's max wait and the time left before the request deadline. Audited durably: QUEUED before waiting
 * (`queued_behind: "true"` when the request did not ask the store), QUEUE_ADMITTED once admitted,
 * QUEUE_TIMED_OUT before the 429 of a wait that ran out (answered with the request's latest concurrency
 * denial), RATE_LIMITED (`queue_full`) before the 429 of a full queue, QUEUE_ABANDONED when the wait ends
 * otherwise (the client left, a retry failed, the replica shut down): one outcome event per wait. Resolves
 * with the final store decision (the caller answers a non-concurrency denial met while waiting); rejects
 * with the RouterError of a full or timed-out queue (the request deadline ending the wait times it out), the
 * request signal's reason (client gone), the store's or the audit outbox's failure, or 503 when the replica
 * shuts down.
 */
async function waitInQueue(
  deps: QueueAdmissionDeps,
  context: DecisionContext,
  queuePolicy: ResolvedQueuePolicy,
  first: QueueStart,
): Promise<QueuedResult> {
  const { input, limits } = context;
  const extra: Record<string, string> = first.behind ? { queued_behind: 'true' } : {};
  const ending: WaitEnding = {
    subject: { requestId: input.requestId, principal: input.principal, admissionId: first.admissionId },
    denied: first.denied,
    extra,
    refuse: async (event) => {
      const { denied } = ending;
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
  if (full !== undefined)
    return { ...(await answerOutcome(deps, ending, { kind: 'full', bound: full })), context };
  // The context of the retry that ended the wait: retries use the newest policy's limits (deps.current).
  let decided = context;
  const maxWaitMs = Math.max(0, Math.min(queuePolicy.maxWaitMs, input.remainingMs()));
  const queued = queuedAuditEvent(ending.subject, first.denied, maxWaitMs);
  await deps.audit.record({ ...queued, attributes: { ...queued.attributes, ...extra } });
  deps.metrics.decisionsTotal.inc({ kind: 'concurrency', outcome: 'queued' });
  const outcome = await deps.queue.wait({
    ...bounds,
    limitId: first.denied.deniedBy.id,
    maxWaitMs,
    signal: input.signal,
    attempt: async (): Promise<QueueAttempt<StoreDecision>> => {
      const current = deps.current(context);
      const result = await deps.decide(current);
      const { decision } = result;
      if (decision.allowed || classifyDenial(decision) !== 'concurrency') {
        decided = current;
        return { done: true, value: result };
      }
      // Still blocked: the 429 of a timeout answers with these (fresher, own) numbers.
      ending.denied = decision;
      ending.subject = { ...ending.subject, admissionId: result.admissionId };
      return { done: false, limitId: decision.deniedBy.id };
    },
    discard: deps.release,
  });
  const ended = await answerOutcome(
    deps,
    ending,
    endedByDeadline(outcome) ? { kind: 'timed_out', waitedMs: outcome.waitedMs } : outcome,
  );
  return { ...ended, context: decided };
}

/**
 * Whether the request deadline ended the wait. The deadline caps the max wait, and its timer (armed when the
 * request arrived, for the same moment) fires before the queue's own: the wait ran out (429,
 * QUEUE_TIMED_OUT), it is not the 504 of a backend that took too long (none was called).
 */
function endedByDeadline(
  outcome: QueueOutcome<StoreDecision>,
): outcome is Extract<QueueOutcome<StoreDecision>, { kind: 'aborted' }> {
  return (
    outcome.kind === 'aborted' &&
    outcome.reason instanceof RouterError &&
    outcome.reason.code === 'upstream_timeout'
  );
}

/** What the end of a wait needs: who it is about, the first denial, and how to answer 429 for it. */
interface WaitEnding {
  subject: AuditSubject;
  /** The latest concurrency denial of the request (or the one it queued behind, until it has its own). */
  denied: AdmitDenied;
  /** Attributes added to the request's queue audit events. */
  readonly extra: Readonly<Record<string, string>>;
  /** Sets the denial's rate-limit headers, appends `event` durably, throws the denial's 429. */
  readonly refuse: (event: AuditEventInit) => Promise<never>;
}

/** Turns how a wait ended into the admission's result or error (see waitInQueue), with metrics and audit. */
async function answerOutcome(
  deps: QueueAdmissionDeps,
  ending: WaitEnding,
  outcome: QueueOutcome<StoreDecision>,
): Promise<Omit<QueuedResult, 'context'>> {
  const { subject, denied, extra } = ending;
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
          queueOutcomeAuditEvent(admittedSubject, 'admitted', denied.deniedBy.id, waitedMs, extra),
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
        queueOutcomeAuditEvent(subject, 'timed_out', denied.deniedBy.id, outcome.waitedMs, extra),
      );
    case 'full':
      deps.metrics.decisionsTotal.inc({ kind: 'concurrency', outcome: 'queue_full' });
      return ending.refuse(denialAuditEvent(subject, denied, { ...extra, queue_full: outcome.bound }));
    case 'aborted': {
      observe('aborted', outcome.waitedMs);
      const status = outcome.reason instanceof RouterError ? outcome.reason.status : CLIENT_CLOSED_STATUS;
      // Nobody waits for an answer: an append that fails (counted by the recorder) does not replace the
      // reason, so the request still ends as the client's departure.
      await abandon(deps, ending, 'client_closed', { waitedMs: outcome.waitedMs, status }).catch(
        () => undefined,
      );
      throw outcome.reason;
    }
    case 'failed':
      observe('failed', outcome.waitedMs);
      await abandon(deps, ending, 'failed', {
        waitedMs: outcome.waitedMs,
        status: toRouterError(outcome.error).status,
      });
      throw outcome.error;
    case 'closed': {
      observe('closed', outcome.waitedMs);
      const error = new RouterError('not_ready', { message: 'The router is shutting down.' });
      await abandon(deps, ending, 'shutdown', { waitedMs: outcome.waitedMs, status: error.status });
      throw error;
    }
  }
}

/**
 * Appends the QUEUE_ABANDONED event of a wait that ended without an admission or a limit's answer (before
 * the answer, like every other outcome of the queue).
 */
function abandon(
  deps: QueueAdmissionDeps,
  ending: WaitEnding,
  outcome: QueueAbandonment,
  init: { readonly waitedMs: number; readonly status: number },
): Promise<void> {
  const limitId = ending.denied.deniedBy.id;
  return deps.audit.record(
    queueAbandonedAuditEvent(ending.subject, outcome, { ...init, limitId }, ending.extra),
  );
}
