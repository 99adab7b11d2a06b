import type { Cluster, Redis } from 'ioredis';
import {
  buildAdmitDecision,
  validateAdmitRequest,
  validateNowMs,
  validateReservation,
  validateUsage,
} from '../admit-decision.js';
import { DuplicateRequestError } from '../duplicate-request-error.js';
import { validateAmount, validateBudgetRef, type BudgetRef, type LimitCheck } from '../limit-plan.js';
import {
  DEFAULT_RECORD_RETENTION_MS,
  validateRetention,
  type BudgetSnapshot,
  type CheckResult,
  type LimitStore,
  type Reservation,
  type SettleOutcome,
  type Usage,
} from '../limit-store.js';
import { MAX_MICROS } from '../math/budget-ledger.js';
import type { BudgetPeriod } from '../math/budget-period.js';
import { ADMIT_SCRIPT } from './admit-script.js';
import { BUDGET_ADMIN_SCRIPT } from './budget-admin-script.js';
import { callWithTimeout } from './call-with-timeout.js';
import { END_SCRIPT } from './end-script.js';
import { checkArguments, createRedisKeys } from './redis-keys.js';

export interface RedisLimitStoreOptions {
  /**
   * A client owned by the caller (the store never quits it). The store registers its scripts on it with
   * `defineCommand` (names prefixed `apiRouterLimits`); ioredis runs them with EVALSHA and reloads them after
   * a Redis restart (NOSCRIPT).
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
}

type ScriptCall = (...args: (string | number)[]) => Promise<unknown>;

function defineScript(redis: Redis | Cluster, name: string, lua: string): ScriptCall {
  redis.defineCommand(name, { lua });
  const command = (redis as unknown as Record<string, unknown>)[name];
  if (typeof command !== 'function') throw new Error(`ioredis did not define the ${name} command`);
  return (...args) => (command as (...values: unknown[]) => Promise<unknown>).apply(redis, args);
}

const NO_VALUE = -1;
const orNull = (value: number): number | null => (value === NO_VALUE ? null : value);

function parseCheckResults(checks: readonly LimitCheck[], reply: number[]): CheckResult[] {
  return checks.map((check, index) => {
    const at = 2 + index * 5;
    return {
      kind: check.kind,
      id: check.id,
      allowed: reply[at] === 1,
      limit: reply[at + 1] ?? 0,
      remaining: reply[at + 2] ?? 0,
      resetAtMs: orNull(reply[at + 3] ?? NO_VALUE),
      retryAfterMs: orNull(reply[at + 4] ?? NO_VALUE),
    };
  });
}

function parseBudgetReply(reply: (string | number)[]): BudgetSnapshot {
  const [, period, limit, spent, reserved, remaining, periodStart, periodReset] = reply;
  return {
    period: period === '' ? null : (period as BudgetPeriod),
    limitMicros: Number(limit),
    spentMicros: Number(spent),
    reservedMicros: Number(reserved),
    remainingMicros: Number(remaining),
    periodStartMs: orNull(Number(periodStart)),
    periodResetAtMs: orNull(Number(periodReset)),
  };
}

const END_STATUS = ['unknown', 'done', 'already-settled', 'already-released'] as const;

/**
 * The {@link LimitStore} shared by every data-plane replica: each operation is one Lua script (one round trip,
 * atomic), with time from Redis `TIME`. Same semantics as the memory store, held to it by the differential
 * test. Failures and timeouts reject with LimitStoreUnavailableError; invalid input rejects with RangeError
 * before any call.
 */
export function createRedisLimitStore(options: RedisLimitStoreOptions): LimitStore {
  const retentionMs = options.recordRetentionMs ?? DEFAULT_RECORD_RETENTION_MS;
  validateRetention(retentionMs);
  if (!(options.commandTimeoutMs > 0)) throw new RangeError('commandTimeoutMs must be > 0');
  const keys = createRedisKeys(options.keyPrefix);
  const admitScript = defineScript(options.redis, 'apiRouterLimitsAdmit', ADMIT_SCRIPT);
  const endScript = defineScript(options.redis, 'apiRouterLimitsEnd', END_SCRIPT);
  const budgetScript = defineScript(options.redis, 'apiRouterLimitsBudget', BUDGET_ADMIN_SCRIPT);

  function nowArgument(): string {
    if (options.clock === undefined) return '';
    const nowMs = options.clock.now();
    validateNowMs(nowMs);
    return String(nowMs);
  }

  function run<T>(
    operation: string,
    script: ScriptCall,
    allKeys: string[],
    argv: (string | number)[],
  ): Promise<T> {
    return callWithTimeout(
      operation,
      options.commandTimeoutMs,
      () => script(allKeys.length, ...allKeys, ...argv) as Promise<T>,
    );
  }

  function checkLayout(
    partition: string,
    checks: readonly LimitCheck[],
  ): { checkKeys: string[]; checkArgs: string[] } {
    return {
      checkKeys: checks.flatMap((check) => keys.check(partition, check)),
      checkArgs: checks.flatMap((check) => checkArguments(check)),
    };
  }

  async function end(
    reservation: Reservation,
    usage: Usage | undefined,
  ): Promise<SettleOutcome<(typeof END_STATUS)[number]>> {
    validateReservation(reservation);
    if (usage !== undefined) validateUsage(usage);
    const { requestId, partition, checks } = reservation;
    const { checkKeys, checkArgs } = checkLayout(partition, checks);
    const mode = usage === undefined ? 'x' : 's';
    const [status, expired] = await run<number[]>(
      usage === undefined ? 'release' : 'settle',
      endScript,
      [keys.clock(partition), keys.record(partition, requestId), ...checkKeys],
      [
        nowArgument(),
        requestId,
        mode,
        usage?.tokens ?? 0,
        usage?.costMicros ?? 0,
        retentionMs,
        checks.length,
        ...checkArgs,
      ],
    );
    return { status: END_STATUS[status ?? 0] ?? 'unknown', reservationExpired: expired === 1 };
  }

  async function budgetOp(
    ref: BudgetRef,
    op: string,
    amountMicros: number,
  ): Promise<BudgetSnapshot | undefined> {
    validateBudgetRef(ref);
    const reply = await run<(string | number)[]>(
      `budget ${op}`,
      budgetScript,
      [keys.clock(ref.partition), ...keys.budget(ref.partition, ref.id)],
      [nowArgument(), op, amountMicros],
    );
    return reply[0] === 0 ? undefined : parseBudgetReply(reply);
  }

  async function adminOp(ref: BudgetRef, op: string, amountMicros: number): Promise<BudgetSnapshot> {
    const snapshot = await budgetOp(ref, op, amountMicros);
    if (snapshot === undefined) throw new Error(`budget ${op} returned no budget`);
    return snapshot;
  }

  return {
    async admit(request) {
      validateAdmitRequest(request);
      const { requestId, plan, costs } = request;
      const { checkKeys, checkArgs } = checkLayout(plan.partition, plan.checks);
      const reply = await run<number[]>(
        'admit',
        admitScript,
        [keys.clock(plan.partition), keys.record(plan.partition, requestId), ...checkKeys],
        [
          nowArgument(),
          requestId,
          costs.tokens,
          costs.costMicros,
          request.reservationTtlMs,
          retentionMs,
          plan.checks.length,
          ...checkArgs,
        ],
      );
      if (reply[0] === 2) throw new DuplicateRequestError(requestId);
      return buildAdmitDecision(request, reply[1] ?? 0, parseCheckResults(plan.checks, reply));
    },
    async settle(reservation, usage) {
      const outcome = await end(reservation, usage);
      return { ...outcome, status: outcome.status === 'done' ? 'settled' : outcome.status };
    },
    async release(reservation) {
      const outcome = await end(reservation, undefined);
      return { ...outcome, status: outcome.status === 'done' ? 'released' : outcome.status };
    },
    getBudget: (ref) => budgetOp(ref, 'get', 0),
    async topUpBudget(ref, amountMicros) {
      validateAmount(amountMicros, 'amountMicros', MAX_MICROS);
      return adminOp(ref, 'topup', amountMicros);
    },
    resetBudget: (ref) => adminOp(ref, 'reset', 0),
    async setBudgetLimit(ref, limitMicros) {
      if (limitMicros !== null) validateAmount(limitMicros, 'limitMicros', MAX_MICROS);
      return adminOp(ref, 'limit', limitMicros ?? -1);
    },
  };
}
