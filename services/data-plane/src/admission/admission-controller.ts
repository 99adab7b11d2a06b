import type { FastifyBaseLogger } from 'fastify';
import { RouterError } from '@api-router/errors';
import {
  LimitStoreUnavailableError,
  type AdmitDecision,
  type AdmitDenied,
  type AdmitRequest,
  type LimitStore,
} from '@api-router/limits';
import type { RuntimePolicy, RuntimeRoute } from '@api-router/policy';
import type { Principal } from '../auth/principal.js';
import type { AdmissionMetrics } from '../metrics/admission-metrics.js';
import type { AuditRecorder } from '../records/audit-recorder.js';
import type { Timers } from '../timers.js';
import { denialAuditEvent } from './admission-audit.js';
import { reservationCosts, type CostRequest, type ReservationCosts } from './admission-costs.js';
import {
  createAdmissionTicket,
  releaseUnused,
  UNLIMITED_ADMISSION,
  type Admission,
  type TicketDeps,
} from './admission-ticket.js';
import type { FairQueue } from './fair-queue.js';
import { denialError } from './limit-denial.js';
import { LimitPlanCache, type KeyLimits } from './limit-plan-cache.js';
import type { LimitStoreHealth } from './limit-store-health.js';
import { decideInQueueOrder } from './queue-admission.js';
import { rateLimitHeaders } from './rate-limit-headers.js';
import { type CancelSignal } from '../cancel-signal.js';

/** One request to admit, after authentication and route resolution, before the upstream call. */
export interface AdmissionInput {
  readonly requestId: string;
  readonly principal: Principal;
  readonly policy: RuntimePolicy;
  readonly route: RuntimeRoute;
  readonly cost: CostRequest;
  /** The request's signal (client gone, deadline): a queued request leaves the queue on abort. */
  readonly signal: CancelSignal;
  /** Milliseconds left before the request deadline (a queue wait never outlasts it). */
  readonly remainingMs: () => number;
  /** Receives the `x-ratelimit-*` headers of the decision, allowed or denied, before admit settles. */
  readonly onHeaders: (headers: Readonly<Record<string, string>>) => void;
  readonly log: Pick<FastifyBaseLogger, 'debug' | 'level'>;
}

/** Admits requests against the limits of their key and tenant. */
export interface AdmissionController {
  /**
   * Resolves with the admission (hold it until the request ends, then `finish` it), or rejects with the
   * RouterError to answer: 402 budget_exhausted, 429 rate_limited (with Retry-After), 503
   * dependency_unavailable (store unreachable and the policy fails closed, or the audit outbox failed), or
   * the request signal's reason when the client left while queued (a wait the deadline ends is a 429).
   * Every 402/429 is audited durably before the rejection.
   */
  admit(input: AdmissionInput): Promise<Admission>;
  /** Ends queued waits, then waits for background settlements (call after the HTTP server closed). */
  close(): Promise<void>;
}

export interface AdmissionControllerDeps {
  /** The store every replica shares (Redis), or the process's memory store when there is no Redis. */
  readonly store: LimitStore;
  /** Per-replica store for the local share while the shared store is unreachable (Redis mode only). */
  readonly localStore: LimitStore;
  readonly health: LimitStoreHealth;
  readonly queue: FairQueue<StoreDecision>;
  readonly metrics: AdmissionMetrics;
  readonly audit: AuditRecorder;
  readonly timers: Timers;
  /** Monotonic milliseconds. */
  readonly now: () => number;
  /** A fresh id part unique across replicas; admission ids are `<request id>~<this>`, unique whatever the client sent. */
  readonly randomId: () => string;
  readonly logger: TicketDeps['logger'];
  /** Waits between retries of a failed settle/release; default 100, 500, 2000 ms. */
  readonly settleRetryDelaysMs?: readonly number[];
}

/** A store decision and the store that made it (settlement goes back to the same store). */
export interface StoreDecision {
  readonly decision: AdmitDecision;
  readonly store: LimitStore;
  /** True when the shared store decided; false for the local share during a store outage. */
  readonly shared: boolean;
  readonly admissionId: string;
}

/** What a single store decision needs; built once per request. */
export interface DecisionContext {
  readonly input: AdmissionInput;
  readonly limits: KeyLimits;
  readonly costs: ReservationCosts;
}

/**
 * Waits before each retry of a settle/release the store could not answer. Their sum, with the store
 * timeout, bounds how long a settlement takes (see MAX_LIMITS_TIMEOUT_MS in config.ts).
 */
export const DEFAULT_SETTLE_RETRY_DELAYS_MS: readonly number[] = [100, 500, 2000];

export function createAdmissionController(deps: AdmissionControllerDeps): AdmissionController {
  const plans = new LimitPlanCache();
  const pending = new Set<Promise<void>>();
  const ticketDeps: TicketDeps = {
    metrics: deps.metrics,
    timers: deps.timers,
    logger: deps.logger,
    retryDelaysMs: deps.settleRetryDelaysMs ?? DEFAULT_SETTLE_RETRY_DELAYS_MS,
    track(work) {
      pending.add(work);
      void work.finally(() => pending.delete(work));
    },
    slotFreed: (partition) => deps.queue.slotFreed(partition),
    storeSucceeded: () => deps.health.succeeded(),
    storeFailed: (failure) => deps.health.failed(failure),
  };
  const decide = (context: DecisionContext): Promise<StoreDecision> => decideOnce(deps, context);
  // The newest policy a request brought here: a queued request is retried against its limits (see current).
  let newest: RuntimePolicy | undefined;
  const queueDeps = {
    ...deps,
    decide,
    current: (context: DecisionContext) => currentContext(plans, newest, context),
    release: (decision: StoreDecision) => releaseLater(ticketDeps, decision),
  };

  return {
    async admit(input) {
      if (newest === undefined || input.policy.version > newest.version) newest = input.policy;
      const limits = plans.limitsFor(input.policy, input.principal);
      if (limits.plan.checks.length === 0) return UNLIMITED_ADMISSION;
      const context: DecisionContext = {
        input,
        limits,
        costs: reservationCosts(input.policy, input.route, input.cost),
      };
      const { result, waitedMs: queueMs, context: decided } = await decideInQueueOrder(queueDeps, context);
      const { decision } = result;
      countDecision(deps.metrics, decision);
      logDecision(input, result);
      const headers = rateLimitHeaders(decision.checks, decision.decidedAtMs, limits.headerOwners);
      input.onHeaders(headers);
      if (!decision.allowed) throw await auditedDenial(deps, input, result.admissionId, decision);
      return createAdmissionTicket(ticketDeps, {
        store: result.store,
        shared: result.shared,
        reservation: decision.reservation,
        policy: input.policy,
        model: input.cost.model,
        headers,
        queueMs,
        outputCap: decided.limits.chargesTokens ? context.costs.outputCap : undefined,
      });
    },
    async close() {
      deps.queue.close();
      await Promise.allSettled([...pending]);
      deps.health.close();
    },
  };
}

/**
 * One admission attempt: the shared store unless degraded; on its failure (or while degraded) the
 * store-failure plan — 503 when a limit fails closed, else the local share in the replica's own store.
 */
async function decideOnce(deps: AdmissionControllerDeps, context: DecisionContext): Promise<StoreDecision> {
  const { limits, costs } = context;
  const admissionId = `${context.input.requestId}~${deps.randomId()}`;
  // Built once (the hot path allocates no copy): the shared store's request; the local share's differs
  // only by its plan.
  const request: AdmitRequest = {
    requestId: admissionId,
    plan: limits.plan,
    costs,
    reservationTtlMs: context.input.policy.settings.reservationTtlMs,
  };
  if (!deps.health.degraded) {
    try {
      const decision = await deps.store.admit(request);
      deps.health.succeeded();
      return { decision, store: deps.store, shared: true, admissionId };
    } catch (error: unknown) {
      if (!(error instanceof LimitStoreUnavailableError)) throw error;
      deps.metrics.storeFailuresTotal.inc({ operation: 'admit', failure: error.failure });
      deps.health.failed(error.failure);
    }
  }
  const fallback = limits.storeFailurePlan;
  if (fallback.kind === 'reject') {
    deps.metrics.decisionsTotal.inc({ kind: 'store', outcome: 'fail_closed' });
    throw new RouterError('dependency_unavailable', {
      message: 'The limit store is unavailable and this request’s limits fail closed.',
      retryAfterSeconds: 1,
      details: { limit: fallback.checkId, reason: fallback.reason },
    });
  }
  deps.metrics.decisionsTotal.inc({ kind: 'store', outcome: 'fail_open_local' });
  if (fallback.uncheckedBudgetIds.length > 0) deps.metrics.budgetFailOpenTotal.inc();
  const decision = await deps.localStore.admit({ ...request, plan: fallback.plan });
  return { decision, store: deps.localStore, shared: false, admissionId };
}

/**
 * The context a queued request is retried with. Its own policy was captured when it arrived; a newer one
 * applied while it waits may have raised, lowered or removed the limit it waits for, and a slot freed now
 * must be given by the limit in force (else the old limit keeps the key's whole queue waiting, or admits
 * above a lowered limit). Only the limits change (its route and prices stay the request's). A key the newer
 * policy no longer has, or moved to another tenant, keeps its captured limits: its principal (tenant, the
 * partition of its checks) is the one it authenticated as.
 */
function currentContext(
  plans: LimitPlanCache,
  newest: RuntimePolicy | undefined,
  context: DecisionContext,
): DecisionContext {
  const { input } = context;
  if (newest === undefined || newest.version <= input.policy.version) return context;
  if (newest.apiKeysByPublicId.get(input.principal.keyId)?.tenantId !== input.principal.tenantId)
    return context;
  const limits = plans.limitsFor(newest, input.principal);
  return { ...context, limits };
}

function releaseLater(ticketDeps: TicketDeps, result: StoreDecision): void {
  if (!result.decision.allowed) return;
  const { store, shared, decision } = result;
  releaseUnused(ticketDeps, { store, shared, reservation: decision.reservation });
}

async function auditedDenial(
  deps: AdmissionControllerDeps,
  input: AdmissionInput,
  admissionId: string,
  decision: AdmitDenied,
): Promise<RouterError> {
  await deps.audit.record(
    denialAuditEvent({ requestId: input.requestId, principal: input.principal, admissionId }, decision),
  );
  return denialError(decision);
}

function countDecision(metrics: AdmissionMetrics, decision: AdmitDecision): void {
  for (const check of decision.checks) {
    metrics.countCheck(check.kind, check.allowed);
  }
}

/**
 * The decision record (debug level): store time of the decision, the key and the outcome. The two-replica
 * acceptance test reads these lines to check admitted requests per second against the token bucket.
 */
function logDecision(input: AdmissionInput, result: StoreDecision): void {
  // The record object is only worth building when it is written.
  if (input.log.level !== 'debug' && input.log.level !== 'trace') return;
  const { decision } = result;
  input.log.debug(
    {
      limitDecision: {
        admissionId: result.admissionId,
        keyId: input.principal.keyId,
        tenantId: input.principal.tenantId,
        allowed: decision.allowed,
        deniedBy: decision.allowed ? undefined : decision.deniedBy.id,
        decidedAtMs: decision.decidedAtMs,
        shared: result.shared,
      },
    },
    'limit decision',
  );
}
