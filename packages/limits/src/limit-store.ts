import type { BudgetRef, LimitCheck, LimitCheckKind, LimitPlan } from './limit-plan.js';
import type { BudgetPeriod } from './math/budget-period.js';

/** Longest reservation (and concurrency lease) accepted: one day. */
export const MAX_RESERVATION_TTL_MS = 86_400_000;

/** Default time a request record is remembered after its reservation expires or it is settled/released. */
export const DEFAULT_RECORD_RETENTION_MS = 600_000;

/** Throws a RangeError unless a record retention is an integer in [1 ms, {@link MAX_RESERVATION_TTL_MS}]. */
export function validateRetention(retentionMs: number): void {
  if (!Number.isSafeInteger(retentionMs) || retentionMs < 1 || retentionMs > MAX_RESERVATION_TTL_MS) {
    throw new RangeError(`recordRetentionMs must be an integer in [1, ${String(MAX_RESERVATION_TTL_MS)}]`);
  }
}

/** What a request may consume at most, estimated before it runs. */
export interface AdmitCosts {
  /** Maximum LLM tokens (prompt + max completion); charged to every `tokens` check. */
  readonly tokens: number;
  /** Maximum cost in micro-units; reserved in every `budget` check. */
  readonly costMicros: number;
}

export interface AdmitRequest {
  /** Unique per admission (see DuplicateRequestError). */
  readonly requestId: string;
  readonly plan: LimitPlan;
  readonly costs: AdmitCosts;
  /**
   * How long the reservation and the concurrency lease hold if nobody settles or releases them (a crashed
   * replica); after it they stop counting. 1 ms .. {@link MAX_RESERVATION_TTL_MS}. Choose the request deadline
   * plus a margin: a request still running after it no longer holds its slot or its reservation.
   */
  readonly reservationTtlMs: number;
}

/** The numbers one check reports, enough for `x-ratelimit-*` headers and audit records. */
export interface CheckResult {
  readonly kind: LimitCheckKind;
  readonly id: string;
  readonly allowed: boolean;
  /** requests/min, tokens/min, slots, or the budget limit in force (micros). */
  readonly limit: number;
  /** Units left (requests, tokens, slots, micros), never negative: after this admission when it was allowed. */
  readonly remaining: number;
  /** Store time (ms) a bucket is full again, the earliest lease ends, or the budget period ends (`null`: never). */
  readonly resetAtMs: number | null;
  /** 0 when allowed; ms until this check could allow the request; `null` when waiting cannot help. */
  readonly retryAfterMs: number | null;
}

/** What settle and release need back: returned by an allowed admission and passed back unchanged. */
export interface Reservation {
  readonly requestId: string;
  readonly partition: string;
  readonly checks: readonly LimitCheck[];
  /** Reserved tokens and micros (the admission's costs). */
  readonly tokens: number;
  readonly costMicros: number;
  /** Store time after which the reservation and lease stop counting. */
  readonly expiresAtMs: number;
}

export interface AdmitAllowed {
  readonly allowed: true;
  /** Store time of the decision (Redis TIME in production). */
  readonly decidedAtMs: number;
  readonly reservation: Reservation;
  readonly checks: readonly CheckResult[];
}

export interface AdmitDenied {
  readonly allowed: false;
  readonly decidedAtMs: number;
  /** The first denying check in plan order. */
  readonly deniedBy: { readonly kind: LimitCheckKind; readonly id: string };
  /** The longest wait among the denying checks; `null` when any of them cannot be satisfied by waiting. */
  readonly retryAfterMs: number | null;
  /** `deniedBy`'s numbers. */
  readonly remaining: number;
  readonly resetAtMs: number | null;
  readonly limit: number;
  readonly checks: readonly CheckResult[];
}

export type AdmitDecision = AdmitAllowed | AdmitDenied;

/** What a request really consumed. */
export interface Usage {
  readonly tokens: number;
  readonly costMicros: number;
}

export type SettleStatus = 'settled' | 'already-settled' | 'already-released' | 'unknown';
export type ReleaseStatus = 'released' | 'already-settled' | 'already-released' | 'unknown';

export interface SettleOutcome<Status extends string = SettleStatus> {
  /** `unknown`: no record of the request id (never admitted, or forgotten after the retention window). */
  readonly status: Status;
  /** The reservation had expired (and was or will be reclaimed); settlement still charges the real cost. */
  readonly reservationExpired: boolean;
}

export type ReleaseOutcome = SettleOutcome<ReleaseStatus>;

export interface BudgetSnapshot {
  /** `null` for a budget only admin operations have touched so far. */
  readonly period: BudgetPeriod | null;
  readonly limitMicros: number;
  readonly spentMicros: number;
  readonly reservedMicros: number;
  /** limit − spent − reserved, never negative. */
  readonly remainingMicros: number;
  readonly periodStartMs: number | null;
  readonly periodResetAtMs: number | null;
}

/**
 * Admission math with one semantics and interchangeable stores (in-process and Redis). Every method either
 * resolves with the store's answer or rejects with LimitStoreUnavailableError (Redis) — or RangeError /
 * DuplicateRequestError for invalid input, before anything is consumed.
 */
export interface LimitStore {
  /** Evaluates every check atomically: all are consumed/reserved, or none is. */
  admit(request: AdmitRequest): Promise<AdmitDecision>;
  /**
   * Replaces the reservation by the real usage: budget spent += actual, reserved −= reserved; the token
   * buckets get the difference back (or are charged it); the concurrency slot is freed. Idempotent.
   */
  settle(reservation: Reservation, usage: Usage): Promise<SettleOutcome>;
  /** Returns everything reserved (tokens, slot, money); the request-count unit stays spent. Idempotent. */
  release(reservation: Reservation): Promise<ReleaseOutcome>;
  /**
   * `undefined` for a budget no admission or admin operation has touched. Budgets are changed (top-up,
   * reset, limit override) only through `BudgetChangeStore.applyBudgetChange`, under a change id.
   */
  getBudget(ref: BudgetRef): Promise<BudgetSnapshot | undefined>;
}
