import { toRouterError } from '@api-router/errors';
import type { RuntimePolicy } from '@api-router/policy';
import { settlementUsage } from '../admission/admission-costs.js';
import type { Clock } from '../clock.js';
import { CLIENT_CLOSED_STATUS, ClientClosedError } from '../inference/request-signal.js';
import { routerTimings, type InferenceRequestState } from '../inference/request-state.js';
import type { UsageRecorder, UsageRecordInit } from './usage-recorder.js';

export interface RequestUsageDeps {
  readonly records: { readonly usage: UsageRecorder };
  /** Wall clock, for the record's start time. */
  readonly clock: Clock;
  /** Monotonic milliseconds (the state's time base). */
  readonly now: () => number;
}

export interface RequestUsageSubject {
  readonly requestId: string;
  /** Public model name the client asked for. */
  readonly model: string;
  readonly streamed: boolean;
  readonly policy: Pick<RuntimePolicy, 'priceFor'>;
  readonly state: InferenceRequestState;
  /**
   * What the admission reserved for money checks. When a backend answered (state.responded) but reported no
   * usage, settlement charges the reservation (see admission-costs.ts settlementUsage); the record carries
   * the same cost so the usage stream and the budget store agree.
   */
  readonly reservedCostMicros: number;
}

/** The usage record of one admitted request, written once, durably, before its response completes. */
export interface RequestUsage {
  /**
   * Appends the record with `statusCode` (a stream: 200, or 499 when its client left; `truncated` from the
   * request state) unless one was already appended for this request. Resolves once durable; rejects with 503 dependency_unavailable
   * when the outbox cannot take it — then do not complete the response as if it were accounted.
   */
  record(statusCode: number): Promise<void>;
  /**
   * The same for a request ending with `error`: its catalogue status, 499 when the client left. Call it
   * before rethrowing, so the record is durable before the error response is rendered.
   */
  recordFailure(error: unknown): Promise<void>;
}

/**
 * Starts the usage accounting of an admitted request (after admission: a request denied by a limit gets an
 * audit event instead). Tokens are the backend's reported usage; the cost is that usage at the serving
 * backend's price (RuntimePolicy.priceFor(model, backendId), rounded up like the reservation); when a backend
 * answered but reported no usage, the reserved cost (what settlement charges); 0 when no backend answered
 * or the model has no price.
 */
export function startRequestUsage(deps: RequestUsageDeps, subject: RequestUsageSubject): RequestUsage {
  return new OnceUsage(deps, subject);
}

/** The record-once flag and the two entry points in one object (methods, not closures per request). */
class OnceUsage implements RequestUsage {
  #recorded = false;

  constructor(
    private readonly deps: RequestUsageDeps,
    private readonly subject: RequestUsageSubject,
  ) {}

  async record(statusCode: number): Promise<void> {
    if (this.#recorded) return;
    this.#recorded = true;
    await this.deps.records.usage.record(usageRecordInit(this.deps, this.subject, statusCode));
  }

  recordFailure(error: unknown): Promise<void> {
    return this.record(
      error instanceof ClientClosedError ? CLIENT_CLOSED_STATUS : toRouterError(error).status,
    );
  }
}

function usageRecordInit(
  deps: RequestUsageDeps,
  subject: RequestUsageSubject,
  statusCode: number,
): UsageRecordInit {
  const { state } = subject;
  const timings = routerTimings(state, deps.now());
  const inputTokens = state.usage?.inputTokens ?? 0;
  const outputTokens = state.usage?.outputTokens ?? 0;
  return {
    requestId: subject.requestId,
    startedAtMs: Math.round(deps.clock.now() - timings.totalMs),
    tenantId: state.principal?.tenantId ?? '',
    keyPublicId: state.principal?.keyId ?? '',
    model: subject.model,
    routeId: state.routeId ?? '',
    backendId: state.backendId ?? '',
    statusCode,
    inputTokens,
    outputTokens,
    costMicros: recordedCostMicros(subject),
    attempts: state.attempts,
    streamed: subject.streamed,
    truncated: state.truncatedReason !== undefined,
    totalMs: timings.totalMs,
    upstreamMs: timings.upstreamMs,
    overheadMs: timings.overheadMs,
    queueMs: timings.queueMs,
    timeToFirstTokenMs: timings.timeToFirstTokenMs ?? 0,
    policyVersion: state.policyVersion,
  };
}

/**
 * What settlement charges (settlementUsage, one computation for both): the reported usage at the serving
 * backend's price, capped as the stores cap it, or the reservation when a backend answered without a usable
 * one; 0 when no backend answered (the reservation is released).
 */
function recordedCostMicros(subject: RequestUsageSubject): number {
  const { state } = subject;
  if (!state.responded && state.usage === undefined) return 0;
  const reserved = { tokens: 0, costMicros: subject.reservedCostMicros };
  return settlementUsage(subject.policy, subject.model, state.backendId ?? '', state.usage, reserved)
    .costMicros;
}
