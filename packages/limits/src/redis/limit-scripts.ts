import type { Cluster, Redis } from 'ioredis';
import { validateNowMs } from '../admit-decision.js';
import type { BudgetRef, LimitCheck } from '../limit-plan.js';
import type { AdmitRequest, BudgetSnapshot, CheckResult, Reservation, Usage } from '../limit-store.js';
import type { BudgetPeriod } from '../math/budget-period.js';
import { ADMIT_SCRIPT } from './admit-script.js';
import { BUDGET_ADMIN_SCRIPT } from './budget-admin-script.js';
import { CallDeadlines } from './call-with-timeout.js';
import { END_SCRIPT } from './end-script.js';
import { PlanEncodings } from './plan-encoding.js';
import { createRedisKeys } from './redis-keys.js';
import type { ScriptArgument } from './script-arguments.js';
import { createScriptRunner, script, type Script } from './script-runner.js';

/** The scripts' stand-in for null (no reset time, no useful retry): never a legitimate value. */
const NO_VALUE = -1;
const orNull = (value: number): number | null => (value === NO_VALUE ? null : value);

function parseCheckResults(checks: readonly LimitCheck[], reply: readonly number[]): CheckResult[] {
  const results: CheckResult[] = new Array<CheckResult>(checks.length);
  for (let index = 0, at = 2; index < checks.length; index++, at += 5) {
    const check = checks[index]!;
    const resetAtMs = reply[at + 3] ?? NO_VALUE;
    const retryAfterMs = reply[at + 4] ?? NO_VALUE;
    results[index] = {
      kind: check.kind,
      id: check.id,
      allowed: reply[at] === 1,
      limit: reply[at + 1] ?? 0,
      remaining: reply[at + 2] ?? 0,
      resetAtMs: resetAtMs === NO_VALUE ? null : resetAtMs,
      retryAfterMs: retryAfterMs === NO_VALUE ? null : retryAfterMs,
    };
  }
  return results;
}

function parseBudgetReply(reply: readonly (string | number)[]): BudgetSnapshot {
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
export type EndStatus = (typeof END_STATUS)[number];
export type BudgetOperation = 'get' | 'topup' | 'reset' | 'limit' | 'abandon';

/**
 * The budget admin script's answer: `missing` (a `get` of an unknown budget), `done` (read or changed now),
 * `already-applied` (the change id's stored numbers), `conflict` (the change id belongs to another change),
 * `abandoned`.
 */
export type BudgetScriptAnswer =
  | { readonly status: 'missing' | 'conflict' | 'abandoned' }
  | { readonly status: 'done' | 'already-applied'; readonly budget: BudgetSnapshot };

const BUDGET_STATUS = ['missing', 'done', 'already-applied', 'conflict', 'abandoned'] as const;

export interface LimitScriptsOptions {
  readonly redis: Redis | Cluster;
  readonly keyPrefix: string;
  readonly commandTimeoutMs: number;
  readonly clock: { now(): number } | undefined;
  readonly retentionMs: number;
  /** How long a budget change id is remembered (store time). */
  readonly changeRetentionMs: number;
}

/**
 * The three scripts as typed calls: key layout and argument encoding in, parsed replies out, each call one
 * round trip under the deadline. A plan is validated when it is first encoded (RangeError, before any
 * call); the other inputs are assumed validated (the store does that).
 */
export interface LimitScripts {
  /** `undefined` when the request id is still remembered (a duplicate). */
  admit(request: AdmitRequest): Promise<{ nowMs: number; checks: CheckResult[] } | undefined>;
  /** `usage` undefined releases. */
  end(
    reservation: Reservation,
    usage: Usage | undefined,
  ): Promise<{ status: EndStatus; reservationExpired: boolean }>;
  /**
   * Reads or changes a budget. `amountMicros` -1 clears a limit override. `changeId` '' only with `get`:
   * every change and `abandon` need one (a change without an id could be applied twice by a retry).
   */
  budget(
    ref: BudgetRef,
    operation: BudgetOperation,
    amountMicros: number,
    changeId: string,
  ): Promise<BudgetScriptAnswer>;
}

export function createLimitScripts(options: LimitScriptsOptions): LimitScripts {
  const { retentionMs } = options;
  const runScript = createScriptRunner(options.redis);
  const deadlines = new CallDeadlines(options.commandTimeoutMs);
  const keys = createRedisKeys(options.keyPrefix);
  const encodings = new PlanEncodings(keys);
  const admitScript = script(ADMIT_SCRIPT, { integerReplies: true });
  const endScript = script(END_SCRIPT, { integerReplies: true });
  const budgetScript = script(BUDGET_ADMIN_SCRIPT);

  /** '' makes the scripts read Redis TIME (production); a test clock's reading overrides it. */
  function nowArgument(): string {
    if (options.clock === undefined) return '';
    const nowMs = options.clock.now();
    validateNowMs(nowMs);
    return String(nowMs);
  }

  function run<T>(operation: string, which: Script, args: readonly ScriptArgument[]): Promise<T> {
    return deadlines.run(operation, () => runScript(which, args) as Promise<T>);
  }

  return {
    async admit(request) {
      const { requestId, plan, costs } = request;
      const encoding = encodings.get(plan.partition, plan.checks);
      const args: ScriptArgument[] = [
        encoding.admitHead,
        encoding.recordKeyPrefix + requestId,
        encoding.admitKeys,
        nowArgument(),
        requestId,
        costs.tokens,
        costs.costMicros,
        request.reservationTtlMs,
        retentionMs,
        encoding.admitTail,
      ];
      const reply = await run<number[]>('admit', admitScript, args);
      if (reply[0] === 2) return undefined;
      return { nowMs: reply[1] ?? 0, checks: parseCheckResults(plan.checks, reply) };
    },
    async end(reservation, usage) {
      const { requestId } = reservation;
      const encoding = encodings.get(reservation.partition, reservation.checks);
      const args: ScriptArgument[] = [
        encoding.endHead,
        encoding.recordKeyPrefix + requestId,
        encoding.endKeys,
        nowArgument(),
        requestId,
        usage === undefined ? 'x' : 's',
        usage?.tokens ?? 0,
        usage?.costMicros ?? 0,
        retentionMs,
        encoding.endTail,
      ];
      const [status, expired] = await run<number[]>(
        usage === undefined ? 'release' : 'settle',
        endScript,
        args,
      );
      return { status: END_STATUS[status ?? 0] ?? 'unknown', reservationExpired: expired === 1 };
    },
    async budget(ref, operation, amountMicros, changeId) {
      if ((changeId === '') !== (operation === 'get')) {
        throw new RangeError(`budget ${operation}: a change id is required for a change, and only for one`);
      }
      const [hash, reservations] = keys.budget(ref.partition, ref.id);
      const budgetKeys =
        changeId === ''
          ? [3, keys.clock(ref.partition), hash, reservations]
          : [4, keys.clock(ref.partition), hash, reservations, keys.budgetChange(ref.partition, changeId)];
      const args = [
        ...budgetKeys,
        nowArgument(),
        operation,
        amountMicros,
        changeId,
        options.changeRetentionMs,
      ];
      const reply = await run<(string | number)[]>(`budget ${operation}`, budgetScript, args);
      const status = BUDGET_STATUS[Number(reply[0])];
      if (status === undefined) throw new Error(`budget ${operation}: unexpected reply ${String(reply[0])}`);
      if (status === 'done' || status === 'already-applied') {
        return { status, budget: parseBudgetReply(reply) };
      }
      return { status };
    },
  };
}
