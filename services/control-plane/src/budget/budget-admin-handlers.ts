import { randomUUID } from 'node:crypto';
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from '@connectrpc/connect';
import type { AdminService, PolicySnapshot } from '@api-router/contracts';
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
import { budgetChangeEvent, type BudgetChange } from './budget-change-event.js';
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
 * roles). Every change reads the budget, applies the change in the shared store, then stores an ADMIN_CHANGE
 * audit event (actor = admin token id, reason, numbers before and after) and answers with its id.
 *
 * Errors: FAILED_PRECONDITION without a shared store (ADR 0004); INVALID_ARGUMENT for missing ids, a zero
 * or oversized amount, a missing reason; NOT_FOUND for a budget the published policy does not define;
 * UNAVAILABLE when Redis or the audit store fails. If the audit store fails AFTER the change was applied,
 * the call fails with UNAVAILABLE saying so (do not blindly retry a top-up: read the budget first), and an
 * error log line carries the whole event.
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
    const after = budgetStatus(budget, await storeCall(() => apply(store, ref)));
    const event = budgetChangeEvent({
      eventId: newEventId(),
      atMs: deps.clock.now(),
      budget,
      change: budgetChange,
      actor: context.values.get(adminPrincipalKey)?.tokenId ?? '',
      reason,
      before,
      after,
    });
    await storeAudit(deps, event);
    deps.logger.info(
      { actor: event.actor, budgetId: budget.budgetId, tenantId: budget.tenantId, eventId: event.eventId },
      event.message,
    );
    return { before, after, auditEventId: event.eventId };
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

async function storeAudit(deps: BudgetAdminDeps, event: ReturnType<typeof budgetChangeEvent>): Promise<void> {
  try {
    await deps.auditStore.ingest([{ type: 'audit', event }], deps.clock.now());
  } catch (error: unknown) {
    deps.logger.error(
      {
        err: error,
        eventId: event.eventId,
        actor: event.actor,
        actorReason: event.actorReason,
        attributes: event.attributes,
      },
      'budget change applied but its audit event could not be stored',
    );
    throw new RouterError('dependency_unavailable', {
      message:
        `the change was applied but its audit event ${event.eventId} could not be stored; ` +
        'read the budget before retrying',
      cause: error,
    });
  }
}
