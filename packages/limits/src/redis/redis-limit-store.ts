import type { Cluster, Redis } from 'ioredis';
import { buildAdmitDecision, validateAdmitValues, validateUsage } from '../admit-decision.js';
import { BudgetChangeConflictError } from '../budget-change-conflict-error.js';
import {
  DEFAULT_BUDGET_CHANGE_RETENTION_MS,
  budgetChangeAmount,
  validateBudgetChange,
  validateChangeId,
  validateChangeRetention,
  type BudgetChange,
  type BudgetChangeStore,
} from '../budget-change-store.js';
import { DuplicateRequestError } from '../duplicate-request-error.js';
import { validateBudgetRef } from '../limit-plan.js';
import {
  DEFAULT_RECORD_RETENTION_MS,
  validateRetention,
  type LimitStore,
  type Reservation,
  type Usage,
} from '../limit-store.js';
import { createLimitScripts, type BudgetOperation } from './limit-scripts.js';

export interface RedisLimitStoreOptions {
  /**
   * A client owned by the caller (the store never quits it). The store runs its scripts with EVALSHA and,
   * after a NOSCRIPT reply (a restarted Redis), with EVAL. `enableAutoPipelining` lets concurrent calls
   * share one socket write.
   */
  readonly redis: Redis | Cluster;
  /** Prefix of every key, e.g. 'router:limits:'. Must not contain `{` or `}`. */
  readonly keyPrefix: string;
  /** Deadline of every call; past it the call rejects with LimitStoreUnavailableError('timeout'). */
  readonly commandTimeoutMs: number;
  /**
   * TESTS ONLY. Production leaves it unset and every script reads the time from Redis `TIME`, so all
   * replicas share one clock. When set, its reading is passed to the scripts instead (the differential test
   * drives both stores from one fake clock).
   */
  readonly clock?: { now(): number };
  /** As for the memory store; default {@link DEFAULT_RECORD_RETENTION_MS}. Use the same value on every replica. */
  readonly recordRetentionMs?: number;
  /**
   * How long a budget change id is remembered after it was applied or abandoned (store time); default
   * {@link DEFAULT_BUDGET_CHANGE_RETENTION_MS}. Longer than any delay before an unrecorded change is
   * reconciled.
   */
  readonly budgetChangeRetentionMs?: number;
}

/** The budget admin script's op for each change. */
const OPERATIONS: Readonly<Record<BudgetChange['operation'], BudgetOperation>> = {
  top_up: 'topup',
  reset: 'reset',
  set_limit: 'limit',
};

/**
 * The {@link LimitStore} (and {@link BudgetChangeStore}) shared by every data-plane replica: each operation is one Lua script (one round trip,
 * atomic), with time from Redis `TIME`. Same semantics as the memory store, held to it by the differential
 * test. Failures and timeouts reject with LimitStoreUnavailableError; invalid input rejects with RangeError
 * before any call.
 */
export function createRedisLimitStore(options: RedisLimitStoreOptions): LimitStore & BudgetChangeStore {
  const retentionMs = options.recordRetentionMs ?? DEFAULT_RECORD_RETENTION_MS;
  validateRetention(retentionMs);
  const changeRetentionMs = options.budgetChangeRetentionMs ?? DEFAULT_BUDGET_CHANGE_RETENTION_MS;
  validateChangeRetention(changeRetentionMs);
  if (!(options.commandTimeoutMs > 0)) throw new RangeError('commandTimeoutMs must be > 0');
  const scripts = createLimitScripts({ ...options, clock: options.clock, retentionMs, changeRetentionMs });

  function end(reservation: Reservation, usage: Usage | undefined): ReturnType<typeof scripts.end> {
    // The plan (partition and checks) is validated when the scripts first encode it.
    if (reservation.requestId.length === 0) throw new RangeError('requestId must not be empty');
    if (usage !== undefined) validateUsage(usage);
    return scripts.end(reservation, usage);
  }

  return {
    async admit(request) {
      if (request.requestId.length === 0) throw new RangeError('requestId must not be empty');
      validateAdmitValues(request);
      const answer = await scripts.admit(request);
      if (answer === undefined) throw new DuplicateRequestError(request.requestId);
      return buildAdmitDecision(request, answer.nowMs, answer.checks);
    },
    async settle(reservation, usage) {
      const outcome = await end(reservation, usage);
      return { ...outcome, status: outcome.status === 'done' ? 'settled' : outcome.status };
    },
    async release(reservation) {
      const outcome = await end(reservation, undefined);
      return { ...outcome, status: outcome.status === 'done' ? 'released' : outcome.status };
    },
    async getBudget(ref) {
      validateBudgetRef(ref);
      const answer = await scripts.budget(ref, 'get', 0, '');
      return answer.status === 'done' ? answer.budget : undefined;
    },
    async applyBudgetChange(ref, changeId, change) {
      validateBudgetRef(ref);
      validateChangeId(changeId);
      validateBudgetChange(change);
      const operation = OPERATIONS[change.operation];
      const answer = await scripts.budget(ref, operation, budgetChangeAmount(change), changeId);
      switch (answer.status) {
        case 'done':
          return { status: 'applied', budget: answer.budget };
        case 'already-applied':
          return { status: 'already-applied', budget: answer.budget };
        case 'abandoned':
          return { status: 'abandoned' };
        default:
          throw new BudgetChangeConflictError(changeId);
      }
    },
    async abandonBudgetChange(ref, changeId) {
      validateBudgetRef(ref);
      validateChangeId(changeId);
      const answer = await scripts.budget(ref, 'abandon', 0, changeId);
      switch (answer.status) {
        case 'already-applied':
          return { status: 'already-applied', budget: answer.budget };
        case 'abandoned':
          return { status: 'abandoned' };
        default:
          throw new BudgetChangeConflictError(changeId);
      }
    },
  };
}
