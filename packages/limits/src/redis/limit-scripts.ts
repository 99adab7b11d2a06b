import type { Cluster, Redis } from 'ioredis';
import { validateNowMs } from '../admit-decision.js';
import type { BudgetRef, LimitCheck } from '../limit-plan.js';
import type { AdmitRequest, BudgetSnapshot, CheckResult, Reservation, Usage } from '../limit-store.js';
import type { BudgetPeriod } from '../math/budget-period.js';
import { ADMIT_SCRIPT } from './admit-script.js';
import { BUDGET_ADMIN_SCRIPT } from './budget-admin-script.js';
import { callWithTimeout } from './call-with-timeout.js';
import { END_SCRIPT } from './end-script.js';
import { checkArguments, createRedisKeys } from './redis-keys.js';

type ScriptCall = (...args: (string | number)[]) => Promise<unknown>;

function defineScript(redis: Redis | Cluster, name: string, lua: string): ScriptCall {
  redis.defineCommand(name, { lua });
  const command = (redis as unknown as Record<string, unknown>)[name];
  if (typeof command !== 'function') throw new Error(`ioredis did not define the ${name} command`);
  return (...args) => (command as (...values: unknown[]) => Promise<unknown>).apply(redis, args);
}

/** The scripts' stand-in for null (no reset time, no useful retry): never a legitimate value. */
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
export type EndStatus = (typeof END_STATUS)[number];
export type BudgetOperation = 'get' | 'topup' | 'reset' | 'limit';

export interface LimitScriptsOptions {
  readonly redis: Redis | Cluster;
  readonly keyPrefix: string;
  readonly commandTimeoutMs: number;
  readonly clock: { now(): number } | undefined;
  readonly retentionMs: number;
}

/**
 * The three scripts as typed calls: key layout and argument encoding in, parsed replies out, each call one
 * round trip under the deadline. Inputs are assumed validated (the store does that).
 */
export interface LimitScripts {
  /** `undefined` when the request id is still remembered (a duplicate). */
  admit(request: AdmitRequest): Promise<{ nowMs: number; checks: CheckResult[] } | undefined>;
  /** `usage` undefined releases. */
  end(
    reservation: Reservation,
    usage: Usage | undefined,
  ): Promise<{ status: EndStatus; reservationExpired: boolean }>;
  /** `undefined` for `get` of a budget that does not exist. `amountMicros` -1 clears a limit override. */
  budget(
    ref: BudgetRef,
    operation: BudgetOperation,
    amountMicros: number,
  ): Promise<BudgetSnapshot | undefined>;
}

export function createLimitScripts(options: LimitScriptsOptions): LimitScripts {
  const keys = createRedisKeys(options.keyPrefix);
  const admitScript = defineScript(options.redis, 'apiRouterLimitsAdmit', ADMIT_SCRIPT);
  const endScript = defineScript(options.redis, 'apiRouterLimitsEnd', END_SCRIPT);
  const budgetScript = defineScript(options.redis, 'apiRouterLimitsBudget', BUDGET_ADMIN_SCRIPT);

  /** '' makes the scripts read Redis TIME (production); a test clock's reading overrides it. */
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
    const call = (): Promise<T> => script(allKeys.length, ...allKeys, ...argv) as Promise<T>;
    return callWithTimeout(operation, options.commandTimeoutMs, call);
  }

  /** The clock and record keys, then each check's keys, and each check's three arguments, in plan order. */
  function layout(partition: string, requestId: string, checks: readonly LimitCheck[]): [string[], string[]] {
    return [
      [
        keys.clock(partition),
        keys.record(partition, requestId),
        ...checks.flatMap((c) => keys.check(partition, c)),
      ],
      checks.flatMap((check) => checkArguments(check)),
    ];
  }

  return {
    async admit(request) {
      const { requestId, plan, costs } = request;
      const [allKeys, checkArgs] = layout(plan.partition, requestId, plan.checks);
      const reply = await run<number[]>('admit', admitScript, allKeys, [
        nowArgument(),
        requestId,
        costs.tokens,
        costs.costMicros,
        request.reservationTtlMs,
        options.retentionMs,
        plan.checks.length,
        ...checkArgs,
      ]);
      if (reply[0] === 2) return undefined;
      return { nowMs: reply[1] ?? 0, checks: parseCheckResults(plan.checks, reply) };
    },
    async end(reservation, usage) {
      const { requestId, partition, checks } = reservation;
      const [allKeys, checkArgs] = layout(partition, requestId, checks);
      const [status, expired] = await run<number[]>(
        usage === undefined ? 'release' : 'settle',
        endScript,
        allKeys,
        [
          nowArgument(),
          requestId,
          usage === undefined ? 'x' : 's',
          usage?.tokens ?? 0,
          usage?.costMicros ?? 0,
          options.retentionMs,
          checks.length,
          ...checkArgs,
        ],
      );
      return { status: END_STATUS[status ?? 0] ?? 'unknown', reservationExpired: expired === 1 };
    },
    async budget(ref, operation, amountMicros) {
      const allKeys = [keys.clock(ref.partition), ...keys.budget(ref.partition, ref.id)];
      const argv = [nowArgument(), operation, amountMicros];
      const reply = await run<(string | number)[]>(`budget ${operation}`, budgetScript, allKeys, argv);
      return reply[0] === 0 ? undefined : parseBudgetReply(reply);
    },
  };
}
