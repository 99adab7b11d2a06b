import { randomUUID } from 'node:crypto';
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from '@connectrpc/connect';
import type { AdminService, AuditEvent, PolicySnapshot } from '@api-router/contracts';
import { RouterError } from '@api-router/errors';
import { LimitStoreUnavailableError, MAX_MICROS, type BudgetChange } from '@api-router/limits';
import type { Logger } from 'pino';
import type { AdminChange, AdminChangeLog } from '../audit/admin-change-log.js';
import type { Clock } from '../clock.js';
import { quoteForMessage } from '../quote-for-message.js';
import { adminPrincipalKey } from '../request-context.js';
import { budgetChangeIntentEvent } from './budget-change-event.js';
import {
  applyRecordedChange,
  type BudgetChangeAnswer,
  type BudgetChangeFlowDeps,
  type BudgetChangeTarget,
  type BudgetStore,
} from './budget-change-flow.js';
import { replayBudgetChange } from './budget-change-replay.js';
import {
  DEFAULT_BUDGET_CHANGE_SETTINGS,
  decidableForMs,
  type BudgetChangeSettings,
} from './budget-change-settings.js';
import { numbersOfStatus } from './budget-numbers.js';
import { budgetStatus } from './budget-status.js';
import { findPolicyBudget, type PolicyBudget } from './find-policy-budget.js';
import { idempotencyKeyOf } from './idempotency-key.js';

export type { BudgetStore } from './budget-change-flow.js';

export type BudgetAdminHandlers = Pick<
  ServiceImpl<typeof AdminService>,
  'getBudget' | 'topUpBudget' | 'resetBudget' | 'setBudgetLimit'
>;

export interface BudgetAdminDeps {
  /** The limit store the data planes share (Redis); undefined in embedded mode, where budgets live in each data plane's memory. */
  store: BudgetStore | undefined;
  /** The published policy: budgets are looked up in it. */
  policy: () => PolicySnapshot | undefined;
  /** Where each change's ADMIN_CHANGE intent and outcome events are stored (the audit store). */
  changeLog: Pick<AdminChangeLog, 'recordIntent' | 'recordOutcome' | 'findChange'>;
  clock: Clock;
  logger: Logger;
  /** Event ids; random UUIDs by default. */
  newEventId?: () => string;
  /** Change id retention and reconciler grace; default DEFAULT_BUDGET_CHANGE_SETTINGS. */
  settings?: Pick<BudgetChangeSettings, 'changeRetentionMs' | 'graceMs'>;
}

/** Longest accepted change reason, in characters. */
export const MAX_REASON_LENGTH = 1000;

/**
 * The budget calls of AdminService (GetBudget: viewer; changes: operator — the admin auth interceptor checks
 * roles). A change is audited **before** it is applied, and applied at most once: read the budget, store
 * the ADMIN_CHANGE `intent` event (actor = admin token id, reason, the change, numbers before, change id)
 * and open the change in the audit store, apply it in Redis under its change id, store its one outcome
 * event (`applied` with the numbers after, or `not_applied`), and answer with the intent's event id (every
 * event of the change carries it as request id). A change left without an outcome (the control plane
 * stopped, Redis or the audit store failed) is settled by the reconciler (budget-change-reconciler.ts).
 *
 * The change id is the caller's idempotency key when sent — the request's `idempotency_key` field, else its
 * `Idempotency-Key` header (idempotency-key.ts) — and then a repeated call (same key, same change) answers
 * like the first one and changes nothing again; else it is the intent's event id.
 *
 * Errors: FAILED_PRECONDITION without a shared store (ADR 0004); INVALID_ARGUMENT for missing ids, a zero
 * or oversized amount, a missing reason, a malformed idempotency key, a field and a header that differ, or
 * a key used for another change; NOT_FOUND for a budget the published policy does not define; UNAVAILABLE (`dependency_unavailable`) when
 * Redis or the audit store fails — the message says whether anything may have changed; ABORTED for a change
 * that was not applied (the reconciler abandoned it first). The audit store failing on the outcome after
 * the change was applied does not fail the call (the reconciler records the outcome later).
 */
export function createBudgetAdminHandlers(deps: BudgetAdminDeps): BudgetAdminHandlers {
  const settings = deps.settings ?? DEFAULT_BUDGET_CHANGE_SETTINGS;
  const flow: BudgetChangeFlowDeps & { decidableForMs: number } = {
    changeLog: deps.changeLog,
    clock: deps.clock,
    logger: deps.logger,
    newEventId: deps.newEventId ?? randomUUID,
    graceMs: settings.graceMs,
    decidableForMs: decidableForMs(settings),
  };

  const change = async (
    request: { tenantId: string; budgetId: string; reason: string; idempotencyKey: string },
    context: HandlerContext,
    budgetChange: BudgetChange,
  ): Promise<BudgetChangeAnswer> => {
    const reason = requireReason(request.reason);
    const { store, budget } = resolve(deps, request);
    const idempotencyKey = idempotencyKeyOf(request.idempotencyKey, context.requestHeader);
    const target = (changeId: string): BudgetChangeTarget => ({
      store,
      budget,
      change: budgetChange,
      changeId,
      idempotencyKey,
    });
    if (idempotencyKey !== undefined) {
      const recorded = await auditCall(deps, () => deps.changeLog.findChange(idempotencyKey));
      if (recorded !== undefined) return replayBudgetChange(flow, target(idempotencyKey), recorded);
    }
    const ref = { partition: budget.tenantId, id: budget.budgetId };
    const before = budgetStatus(budget, await storeCall(() => store.getBudget(ref)));
    const eventId = flow.newEventId();
    const changeId = idempotencyKey ?? eventId;
    const intent = budgetChangeIntentEvent({
      eventId,
      changeId,
      atMs: deps.clock.now(),
      budget,
      change: budgetChange,
      actor: context.values.get(adminPrincipalKey)?.tokenId ?? '',
      reason,
      before: numbersOfStatus(before),
    });
    const recorded = await storeIntent(deps, changeId, intent);
    // Another call with the same Idempotency-Key stored its intent first (concurrent retries).
    if (!recorded.stored) return replayBudgetChange(flow, target(changeId), recorded.change);
    return applyRecordedChange(flow, target(changeId), intent, before);
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
      return change(request, context, { operation: 'top_up', amountMicros });
    },
    resetBudget(request, context) {
      return change(request, context, { operation: 'reset' });
    },
    setBudgetLimit(request, context) {
      // An omitted limit is not 0 (which denies every request): limit_micros has presence in the contract.
      if (request.usePolicyLimit === (request.limitMicros !== undefined)) {
        throw new RouterError('invalid_request', {
          message: 'set exactly one of limit_micros and use_policy_limit',
        });
      }
      const limitMicros =
        request.limitMicros === undefined ? null : requireMicros(request.limitMicros, 'limit_micros', 0);
      return change(request, context, { operation: 'set_limit', limitMicros });
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
        `the published policy defines no budget ${quoteForMessage(request.budgetId)} for tenant ` +
        `${quoteForMessage(request.tenantId)} ` +
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

/** A Redis read before anything is changed; its failure answers UNAVAILABLE. */
async function storeCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error: unknown) {
    if (error instanceof LimitStoreUnavailableError) {
      throw new RouterError('dependency_unavailable', {
        message: `the shared limit store is unavailable (${error.failure}); nothing was changed`,
        cause: error,
      });
    }
    throw error;
  }
}

/** Stores the intent event and opens the change; on failure nothing has been changed (UNAVAILABLE). */
async function storeIntent(
  deps: BudgetAdminDeps,
  changeId: string,
  event: AuditEvent,
): Promise<{ stored: boolean; change: AdminChange }> {
  try {
    return await deps.changeLog.recordIntent(changeId, event, deps.clock.now());
  } catch (error: unknown) {
    deps.logger.warn(
      { err: error, eventId: event.eventId, changeId, actor: event.actor },
      'budget change refused: its audit event could not be stored (nothing was changed)',
    );
    throw auditUnavailable(error);
  }
}

/** A read of the audit store before anything is changed; its failure answers UNAVAILABLE. */
async function auditCall<T>(deps: BudgetAdminDeps, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error: unknown) {
    deps.logger.warn({ err: error }, 'budget change refused: the audit store could not be read');
    throw auditUnavailable(error);
  }
}

function auditUnavailable(cause: unknown): RouterError {
  return new RouterError('dependency_unavailable', {
    message: 'the audit store is unavailable; nothing was changed (safe to retry)',
    cause,
  });
}
