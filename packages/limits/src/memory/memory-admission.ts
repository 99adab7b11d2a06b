import { buildAdmitDecision } from '../admit-decision.js';
import { DuplicateRequestError } from '../duplicate-request-error.js';
import type { LimitCheck } from '../limit-plan.js';
import type { AdmitDecision, AdmitRequest, CheckResult } from '../limit-store.js';
import {
  budgetAvailableMicros,
  budgetLimitMicros,
  budgetResetAtMs,
  evaluateBudget,
  reservationMember,
} from '../math/budget-ledger.js';
import { evaluateSlots, slotsResetAtMs } from '../math/concurrency-slots.js';
import {
  adjustBucketLevel,
  bucketRemainingUnits,
  bucketResetAtMs,
  evaluateBucket,
  type BucketLimits,
} from '../math/token-bucket.js';
import type { MemoryLimitState } from './memory-limit-state.js';

/** One check of an admission: its verdict on the current state, and the step that consumes it. */
export interface PreparedCheck {
  readonly result: CheckResult;
  /** Consumes/reserves; called only when every check of the admission allowed. Returns the numbers after. */
  commit(): CheckResult;
}

function prepareBucket(
  state: MemoryLimitState,
  check: Extract<LimitCheck, { kind: 'requests' | 'tokens' }>,
  request: AdmitRequest,
  nowMs: number,
): PreparedCheck {
  const limits: BucketLimits =
    check.kind === 'requests'
      ? { ratePerMinute: check.ratePerMinute, burst: check.burst }
      : { ratePerMinute: check.tokensPerMinute, burst: check.burst };
  const costUnits = check.kind === 'requests' ? 1 : request.costs.tokens;
  const partition = request.plan.partition;
  const bucket = state.bucket(check.kind, partition, check.id, limits, nowMs);
  const verdict = evaluateBucket(bucket.levelScaled, costUnits, limits);
  const report = (levelScaled: number, allowed: boolean, retryAfterMs: number | null): CheckResult => ({
    kind: check.kind,
    id: check.id,
    allowed,
    limit: limits.ratePerMinute,
    remaining: bucketRemainingUnits(levelScaled),
    resetAtMs: bucketResetAtMs(levelScaled, limits, nowMs),
    retryAfterMs,
  });
  return {
    result: report(bucket.levelScaled, verdict.allowed, verdict.retryAfterMs),
    commit() {
      const levelScaled = adjustBucketLevel(bucket.levelScaled, -costUnits, limits);
      state.setBucket(check.kind, partition, check.id, { levelScaled, updatedAtMs: bucket.updatedAtMs });
      return report(levelScaled, true, 0);
    },
  };
}

function prepareSlots(
  state: MemoryLimitState,
  check: Extract<LimitCheck, { kind: 'concurrency' }>,
  request: AdmitRequest,
  nowMs: number,
): PreparedCheck {
  const { leases, earliestExpiryMs } = state.leases(request.plan.partition, check.id, nowMs);
  const verdict = evaluateSlots(leases.size, check.max, earliestExpiryMs, nowMs);
  const report = (
    active: number,
    earliest: number | null,
    allowed: boolean,
    retryAfterMs: number,
  ): CheckResult => ({
    kind: check.kind,
    id: check.id,
    allowed,
    limit: check.max,
    remaining: Math.max(0, check.max - active),
    resetAtMs: slotsResetAtMs(earliest, nowMs),
    retryAfterMs,
  });
  return {
    result: report(leases.size, earliestExpiryMs, verdict.allowed, verdict.retryAfterMs),
    commit() {
      const expiresAtMs = nowMs + request.reservationTtlMs;
      leases.set(request.requestId, expiresAtMs);
      const earliest = earliestExpiryMs === null ? expiresAtMs : Math.min(earliestExpiryMs, expiresAtMs);
      return report(leases.size, earliest, true, 0);
    },
  };
}

function prepareBudget(
  state: MemoryLimitState,
  check: Extract<LimitCheck, { kind: 'budget' }>,
  request: AdmitRequest,
  nowMs: number,
): PreparedCheck {
  const plan = { limitMicros: check.limitMicros, period: check.period };
  const budget = state.budget(request.plan.partition, check.id, plan, nowMs);
  const costMicros = request.costs.costMicros;
  const verdict = evaluateBudget(budget.state, costMicros, nowMs);
  const report = (allowed: boolean, retryAfterMs: number | null): CheckResult => ({
    kind: check.kind,
    id: check.id,
    allowed,
    limit: budgetLimitMicros(budget.state),
    remaining: Math.max(0, budgetAvailableMicros(budget.state)),
    resetAtMs: budgetResetAtMs(budget.state),
    retryAfterMs,
  });
  return {
    result: report(verdict.allowed, verdict.retryAfterMs),
    commit() {
      const member = reservationMember(costMicros, request.requestId);
      budget.reservations.set(member, {
        member,
        amountMicros: costMicros,
        expiresAtMs: nowMs + request.reservationTtlMs,
      });
      budget.state = { ...budget.state, reservedMicros: budget.state.reservedMicros + costMicros };
      return report(true, 0);
    },
  };
}

/** Brings one check's state up to date at `nowMs` and evaluates it, without consuming anything yet. */
export function prepareCheck(
  state: MemoryLimitState,
  check: LimitCheck,
  request: AdmitRequest,
  nowMs: number,
): PreparedCheck {
  switch (check.kind) {
    case 'requests':
    case 'tokens':
      return prepareBucket(state, check, request, nowMs);
    case 'concurrency':
      return prepareSlots(state, check, request, nowMs);
    case 'budget':
      return prepareBudget(state, check, request, nowMs);
  }
}

/**
 * One admission against the in-process state at `nowMs`: every check brought up to date and evaluated, then
 * all consumed and the request recorded, or nothing consumed. Throws DuplicateRequestError for a request id
 * still remembered.
 */
export function admitToState(
  state: MemoryLimitState,
  request: AdmitRequest,
  nowMs: number,
  retentionMs: number,
): AdmitDecision {
  const { partition } = request.plan;
  if (state.record(partition, request.requestId, nowMs) !== undefined) {
    throw new DuplicateRequestError(request.requestId);
  }
  const prepared = request.plan.checks.map((check) => prepareCheck(state, check, request, nowMs));
  if (!prepared.every((check) => check.result.allowed)) {
    return buildAdmitDecision(
      request,
      nowMs,
      prepared.map((check) => check.result),
    );
  }
  const results = prepared.map((check) => check.commit());
  const expiresAtMs = nowMs + request.reservationTtlMs;
  state.setRecord(partition, request.requestId, {
    partition,
    status: 'reserved',
    expiresAtMs,
    retainUntilMs: expiresAtMs + retentionMs,
    tokens: request.costs.tokens,
    costMicros: request.costs.costMicros,
  });
  return buildAdmitDecision(request, nowMs, results);
}
