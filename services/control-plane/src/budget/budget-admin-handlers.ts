import { randomUUID } from 'node:crypto';
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from '@connectrpc/connect';
import type { AdminService, AuditEvent, BudgetStatus, PolicySnapshot } from '@api-router/contracts';
import { RouterError } from '@api-router/errors';
import {
  LimitStoreUnavailableError,
  MAX_MICROS,
  type BudgetSnapshot,
  type LimitStore,
} from '@api-router/limits';
import type { Logger } from 'pino';
import type { AuditStore } from '../audit/audit-store.js';
import type { Clock } from '../clock.js';
import { adminPrincipalKey } from '../request-context.js';
import { budgetChangeEvent, type BudgetChange, type BudgetChangePhase } from './budget-change-event.js';
import { budgetStatus } from './budget-status.js';
import { findPolicyBudget, type PolicyBudget } from './find-policy-budget.js';

export type BudgetAdminHandlers = Pick<
  ServiceImpl<typeof AdminService>,
  'getBudget' | 'topUpBudget' | 'resetBudget' | 'setBudgetLimit'
>;

/** The limit store operations budget administration uses. */
export type BudgetStore = Pick<LimitStore, 'getBudget' | 'topUpBudget' | 'resetBudget' | 'setBudgetLimit'>;

export interface BudgetAdminDeps {
  /** The limit store the data planes share (Redis); undefined in embedded mode, where budgets live in each data plane's memory. */
  store: BudgetStore | undefined;
  /** The published policy: budgets are looked up in it. */
  policy: () => PolicySnapshot | undefined;
  /** Where each change's ADMIN_CHANGE event is written. */
  auditStore: Pick<AuditStore, 'ingest'>;
  clock: Clock;
  logger: Logger;
  /** Event ids; random UUIDs by default. */
  newEventId?: () => string;
}

/** Longest accepted change reason, in characters. */
export const MAX_REASON_LENGTH = 1000;

/**
 * The budget calls of AdminService (GetBudget: viewer; changes: operator — the admin auth interceptor checks
 * roles). A change is audited **before** it is applied, so none is ever applied unaudited: read the budget,
 * store the ADMIN_CHANGE `intent` event (actor = admin token id, reason, the change, numbers before), apply
 * the change in the shared store, then store its outcome event (`applied` with the numbers after, or
 * `failed`), and answer with the intent's id (both events carry it as request id).
 *
 * Errors: FAILED_PRECONDITION without a shared store (ADR 0004); INVALID_ARGUMENT for missing ids, a zero
 * or oversized amount, a missing reason; NOT_FOUND for a budget the published policy does not define;
 * UNAVAILABLE (`dependency_unavailable`) when Redis or the audit store fails. The audit store failing on the
 * intent means nothing was changed (safe to retry). Redis failing on the change answers UNAVAILABLE saying
 * to read the budget before retrying (a timed-out change may still run). The audit store failing on the
 * outcome after the change was applied does not fail the call: the change is applied and audited by its
 * intent; the missing outcome is logged (error level, with the numbers after).
 */
export function createBudgetAdminHandlers(deps: BudgetAdminDeps): BudgetAdminHandlers {
  const newEventId = deps.newEventId ?? randomUUID;

  const change = async (
    request: { tenantId: string; budgetId: string; reason: string },
    context: HandlerContext,
    budgetChange: BudgetChange,
    apply: (store: BudgetStore, ref: { partition: string; id: string }) => Promise<BudgetSnapshot>,
  ) => {
    const reason = requireReason(request.reason);
    const { store, budget } = resolve(deps, request);
    const ref = { partition: budget.tenantId, id: budget.budgetId };
    const before = budgetStatus(budget, await storeCall(() => store.getBudget(ref)));
    const intentEventId = newEventId();
    const event = (outcome: BudgetChangePhase) =>
      budgetChangeEvent({
        eventId: outcome.phase === 'intent' ? intentEventId : newEventId(),
        intentEventId,
        atMs: deps.clock.now(),
        budget,
        change: budgetChange,
        actor: context.values.get(adminPrincipalKey)?.tokenId ?? '',
        reason,
        before,
        outcome,
      });
    await storeIntent(deps, event({ phase: 'intent' }));
    let after: BudgetStatus;
    try {
      after = budgetStatus(budget, await storeCall(() => apply(store, ref)));
    } catch (error: unknown) {
      const failure = error instanceof RouterError ? storeFailureOf(error) : 'error';
      await storeOutcome(deps, event({ phase: 'failed', failure }));
      throw error;
    }
    const applied = event({ phase: 'applied', after });
    await storeOutcome(deps, applied);
    deps.logger.info(
      { actor: applied.actor, budgetId: budget.budgetId, tenantId: budget.tenantId, eventId: intentEventId },
      applied.message,
    );
    return { before, after, auditEventId: intentEventId };
  };

  return {
    async getBudget(request) {
      const { store, budget } = resolve(deps, request);
      const snapshot = await storeCall(() =>
        store.getBudget({ partition: budget.tenantId, id: budget.budgetId }),
      );
      return { budget: budgetStatus(budget, snapshot) };
    },
    topUpBudget(request, context) {
      const amountMicros = requireMicros(request.amountMicros, 'amount_micros', 1);
      return change(request, context, { operation: 'top_up', amountMicros }, (store, ref) =>
        store.topUpBudget(ref, amountMicros),
      );
    },
    resetBudget(request, context) {
      return change(request, context, { operation: 'reset' }, (store, ref) => store.resetBudget(ref));
    },
    setBudgetLimit(request, context) {
      const limitMicros = request.usePolicyLimit
        ? null
        : requireMicros(request.limitMicros, 'limit_micros', 0);
      return change(request, context, { operation: 'set_limit', limitMicros }, (store, ref) =>
        store.setBudgetLimit(ref, limitMicros),
      );
    },
  };
}

function resolve(
  deps: BudgetAdminDeps,
  request: { tenantId: string; budgetId: string },
): { store: BudgetStore; budget: PolicyBudget } {
  if (deps.store === undefined) {
    throw new ConnectError(
      'budget administration needs the shared limit store: set CP_REDIS_URL to the Redis the data planes ' +
        'use (DP_REDIS_URL). Without it each data plane keeps its budgets in its own memory (see ADR 0004).',
      Code.FailedPrecondition,
    );
  }
  if (request.tenantId === '' || request.budgetId === '') {
    throw new RouterError('invalid_request', { message: 'tenant_id and budget_id are required' });
  }
  const snapshot = deps.policy();
  if (snapshot === undefined) throw new RouterError('not_ready', { message: 'no policy is published yet' });
  const budget = findPolicyBudget(snapshot, request.tenantId, request.budgetId);
  if (budget === undefined) {
    throw new RouterError('not_found', {
      message:
        `the published policy defines no budget "${request.budgetId}" for tenant "${request.tenantId}" ` +
        '(budget ids look like "tenant:<tenant>:<budget>" or "key:<public id>:<budget>")',
    });
  }
  return { store: deps.store, budget };
}

function requireReason(reason: string): string {
  const trimmed = reason.trim();
  if (trimmed === '' || trimmed.length > MAX_REASON_LENGTH) {
    throw new RouterError('invalid_request', {
      message: `reason is required (at most ${MAX_REASON_LENGTH} characters)`,
    });
  }
  return trimmed;
}

function requireMicros(value: bigint, name: string, min: number): number {
  if (value < BigInt(min) || value > BigInt(MAX_MICROS)) {
    throw new RouterError('invalid_request', { message: `${name} must be between ${min} and ${MAX_MICROS}` });
  }
  return Number(value);
}

async function storeCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error: unknown) {
    if (error instanceof LimitStoreUnavailableError) {
      throw new RouterError('dependency_unavailable', {
        message: `the shared limit store is unavailable (${error.failure}); read the budget before retrying a change`,
        cause: error,
      });
    }
    throw error;
  }
}

/** The failure kind of a store call that storeCall turned into a RouterError (`error` for anything else). */
function storeFailureOf(error: RouterError): string {
  return error.cause instanceof LimitStoreUnavailableError ? error.cause.failure : 'error';
}

/** Stores the intent event; on failure nothing has been changed and the call fails UNAVAILABLE. */
async function storeIntent(deps: BudgetAdminDeps, event: AuditEvent): Promise<void> {
  try {
    await deps.auditStore.ingest([{ type: 'audit', event }], deps.clock.now());
  } catch (error: unknown) {
    deps.logger.warn(
      { err: error, eventId: event.eventId, actor: event.actor },
      'budget change refused: its audit event could not be stored (nothing was changed)',
    );
    throw new RouterError('dependency_unavailable', {
      message: 'the audit store is unavailable; nothing was changed (safe to retry)',
      cause: error,
    });
  }
}

/**
 * Stores an outcome event. Its failure does not fail the call: the change is audited by its intent event
 * already; the outcome (numbers after, or the store failure) goes to the error log instead.
 */
async function storeOutcome(deps: BudgetAdminDeps, event: AuditEvent): Promise<void> {
  try {
    await deps.auditStore.ingest([{ type: 'audit', event }], deps.clock.now());
  } catch (error: unknown) {
    deps.logger.error(
      {
        err: error,
        eventId: event.eventId,
        intentEventId: event.requestId,
        actor: event.actor,
        actorReason: event.actorReason,
        attributes: event.attributes,
      },
      'budget change outcome could not be stored (its intent event is stored)',
    );
  }
}
