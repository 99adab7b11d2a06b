import { validateAmount, validatePlan } from './limit-plan.js';
import {
  MAX_RESERVATION_TTL_MS,
  type AdmitDecision,
  type AdmitRequest,
  type CheckResult,
  type Reservation,
  type Usage,
} from './limit-store.js';
import { MAX_MICROS } from './math/budget-ledger.js';
import { MAX_BUCKET_UNITS } from './math/token-bucket.js';

/** Throws a RangeError for an admission no store should run. Shared by both stores so they reject alike. */
export function validateAdmitRequest(request: AdmitRequest): void {
  if (request.requestId.length === 0) throw new RangeError('requestId must not be empty');
  validatePlan(request.plan);
  validateAdmitValues(request);
}

/**
 * validateAdmitRequest without the plan and the request id, for a store that validates each plan once (the
 * Redis store, when it first encodes it).
 */
export function validateAdmitValues(request: AdmitRequest): void {
  validateAmount(request.costs.tokens, 'costs.tokens', MAX_BUCKET_UNITS);
  validateAmount(request.costs.costMicros, 'costs.costMicros', MAX_MICROS);
  if (
    !Number.isSafeInteger(request.reservationTtlMs) ||
    request.reservationTtlMs < 1 ||
    request.reservationTtlMs > MAX_RESERVATION_TTL_MS
  ) {
    throw new RangeError(`reservationTtlMs must be an integer in [1, ${String(MAX_RESERVATION_TTL_MS)}]`);
  }
}

export function validateReservation(reservation: Reservation): void {
  if (reservation.requestId.length === 0) throw new RangeError('requestId must not be empty');
  validatePlan({ partition: reservation.partition, checks: reservation.checks });
}

export function validateUsage(usage: Usage): void {
  validateAmount(usage.tokens, 'usage.tokens', MAX_BUCKET_UNITS);
  validateAmount(usage.costMicros, 'usage.costMicros', MAX_MICROS);
}

/** Throws a RangeError unless a store clock reading is a non-negative integer of milliseconds. */
export function validateNowMs(nowMs: number): void {
  if (!Number.isSafeInteger(nowMs) || nowMs < 0) {
    throw new RangeError(`the clock must return a non-negative integer of ms, got ${String(nowMs)}`);
  }
}

/**
 * Turns the per-check results of one admission into its decision. Both stores compute the per-check numbers
 * (the memory store in TS, the Redis store in Lua) and share this step, so the reporting rules cannot drift.
 */
export function buildAdmitDecision(
  request: AdmitRequest,
  decidedAtMs: number,
  checks: readonly CheckResult[],
): AdmitDecision {
  let first: CheckResult | undefined;
  let retryAfterMs: number | null = 0;
  for (const check of checks) {
    if (check.allowed) continue;
    first ??= check;
    retryAfterMs =
      retryAfterMs === null || check.retryAfterMs === null
        ? null
        : Math.max(retryAfterMs, check.retryAfterMs);
  }
  if (first === undefined) {
    return {
      allowed: true,
      decidedAtMs,
      checks,
      reservation: {
        requestId: request.requestId,
        partition: request.plan.partition,
        checks: request.plan.checks,
        tokens: request.costs.tokens,
        costMicros: request.costs.costMicros,
        expiresAtMs: decidedAtMs + request.reservationTtlMs,
      },
    };
  }
  return {
    allowed: false,
    decidedAtMs,
    deniedBy: { kind: first.kind, id: first.id },
    retryAfterMs,
    remaining: first.remaining,
    resetAtMs: first.resetAtMs,
    limit: first.limit,
    checks,
  };
}
