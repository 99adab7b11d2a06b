import { RouterError } from '@api-router/errors';
import type { AdmitDenied } from '@api-router/limits';
import { formatMicros } from '@api-router/policy';

/**
 * Retry-After of a rate-limit denial whose store gave no wait (`retryAfterMs === null`: another denying
 * check, e.g. a total budget, cannot pass by waiting) and no reset time either; a minute is the period every
 * rate is expressed in. A request no rate can ever admit gets no Retry-After at all (request_exceeds_limit).
 */
export const RETRY_AFTER_FALLBACK_SECONDS = 60;

/** How the router answers a denial: 402 (money), 429 (rate), or the fair queue when the policy allows. */
export type DenialClass = 'budget' | 'rate' | 'concurrency';

/**
 * The class of a denial from the first denying check (buildLimitPlan orders requests, tokens, budgets,
 * concurrency, so `concurrency` means concurrency alone denied: exactly the requests that may queue).
 */
export function classifyDenial(decision: Pick<AdmitDenied, 'deniedBy'>): DenialClass {
  switch (decision.deniedBy.kind) {
    case 'budget':
      return 'budget';
    case 'concurrency':
      return 'concurrency';
    case 'requests':
    case 'tokens':
      return 'rate';
  }
}

/**
 * Whole seconds to wait (Retry-After), at least 1: the store's wait when it has one; when waiting cannot
 * help it on its own (`null`), the time until the denying limit resets; else {@link RETRY_AFTER_FALLBACK_SECONDS}.
 */
export function retryAfterSeconds(
  decision: Pick<AdmitDenied, 'retryAfterMs' | 'resetAtMs' | 'decidedAtMs'>,
): number {
  const waitMs =
    decision.retryAfterMs ??
    (decision.resetAtMs === null ? undefined : decision.resetAtMs - decision.decidedAtMs);
  if (waitMs === undefined) return RETRY_AFTER_FALLBACK_SECONDS;
  return Math.max(1, Math.ceil(waitMs / 1000));
}

/** The numbers a denial used, for the error details and the audit event (strings for the audit map). */
export function denialNumbers(decision: AdmitDenied): Record<string, string> {
  return {
    limit_id: decision.deniedBy.id,
    limit_kind: decision.deniedBy.kind,
    limit: String(decision.limit),
    remaining: String(decision.remaining),
    reset_at: decision.resetAtMs === null ? '' : new Date(decision.resetAtMs).toISOString(),
    retry_after_ms: decision.retryAfterMs === null ? '' : String(decision.retryAfterMs),
    decided_at: new Date(decision.decidedAtMs).toISOString(),
  };
}

/**
 * The error a budget or rate denial is answered with. Budget → 402 `budget_exhausted` with which budget,
 * its limit and what remains (USD decimals and micros) and when it resets (ISO time, null for a `total`
 * budget); no Retry-After (retrying does not help before the reset). Rate (requests, tokens) or concurrency
 * → 429 `rate_limited` with Retry-After and the limit's numbers; a request no wait can ever admit (its
 * cost is above a bucket's whole burst) → 429 `request_exceeds_limit`, not retryable and without
 * Retry-After, so clients that retry every 429 (the OpenAI SDKs read `x-should-retry: false`) stop.
 */
export function denialError(decision: AdmitDenied): RouterError {
  const resetsAt = decision.resetAtMs === null ? null : new Date(decision.resetAtMs).toISOString();
  if (classifyDenial(decision) === 'budget') {
    return new RouterError('budget_exhausted', {
      message: `The budget "${decision.deniedBy.id}" cannot cover this request's maximum cost.`,
      details: {
        budget: decision.deniedBy.id,
        limit_usd: formatMicros(decision.limit),
        remaining_usd: formatMicros(decision.remaining),
        limit_micros: decision.limit,
        remaining_micros: decision.remaining,
        resets_at: resetsAt,
      },
    });
  }
  const details = {
    limit: decision.deniedBy.id,
    limit_kind: decision.deniedBy.kind,
    limit_value: decision.limit,
    remaining: decision.remaining,
    resets_at: resetsAt,
  };
  const never = neverAdmittingCheck(decision);
  if (never !== undefined) {
    return new RouterError('request_exceeds_limit', {
      message:
        `This request costs more than the limit "${never.id}" (${never.kind}) can ever grant at once ` +
        '(its burst): retrying will not help; lower its output token limit.',
      details: { ...details, limit: never.id, limit_kind: never.kind, limit_value: never.limit },
    });
  }
  const seconds = retryAfterSeconds(decision);
  return new RouterError('rate_limited', {
    message: `The limit "${decision.deniedBy.id}" (${decision.deniedBy.kind}) is exhausted; retry after ${seconds} s.`,
    retryAfterSeconds: seconds,
    details,
  });
}

/**
 * The denying rate check that can never allow this request as it is (the store gave no wait:
 * `retryAfterMs === null`, its cost is above the bucket's burst), if any. Budgets are not rates: a budget
 * denial is a 402 whatever its wait.
 */
export function neverAdmittingCheck(
  decision: Pick<AdmitDenied, 'checks'>,
): AdmitDenied['checks'][number] | undefined {
  return decision.checks.find(
    (check) =>
      !check.allowed && check.retryAfterMs === null && (check.kind === 'requests' || check.kind === 'tokens'),
  );
}
