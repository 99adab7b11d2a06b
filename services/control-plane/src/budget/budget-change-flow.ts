import { Code, ConnectError } from '@connectrpc/connect';
import type { AuditEvent, BudgetStatus } from '@api-router/contracts';
import { RouterError } from '@api-router/errors';
import {
  BudgetChangeConflictError,
  LimitStoreUnavailableError,
  type BudgetChange,
  type BudgetChangeFate,
  type BudgetChangeResult,
  type BudgetChangeStore,
  type LimitStore,
} from '@api-router/limits';
import type { Logger } from 'pino';
import type { AdminChangeLog } from '../audit/admin-change-log.js';
import type { Clock } from '../clock.js';
import { budgetChangeOutcomeEvent, type BudgetChangeOutcome } from './budget-change-event.js';
import { numbersOfStatus } from './budget-numbers.js';
import { budgetStatus } from './budget-status.js';
import type { PolicyBudget } from './find-policy-budget.js';

/** The limit store operations budget administration uses. */
export type BudgetStore = Pick<LimitStore, 'getBudget'> & BudgetChangeStore;

export interface BudgetChangeFlowDeps {
  changeLog: Pick<AdminChangeLog, 'recordOutcome'>;
  clock: Clock;
  logger: Logger;
  newEventId: () => string;
  /** The reconciler's grace period, ms (told to the operator when an outcome has to wait for it). */
  graceMs: number;
}

/** One budget change on its way: where it goes, what it is, under which id. */
export interface BudgetChangeTarget {
  readonly store: BudgetStore;
  readonly budget: PolicyBudget;
  readonly change: BudgetChange;
  readonly changeId: string;
  /** The caller's idempotency key (field or header; = changeId) or undefined: changes what a failed call says to do. */
  readonly idempotencyKey: string | undefined;
}

/** What a change call answers. */
export interface BudgetChangeAnswer {
  before: BudgetStatus;
  after: BudgetStatus;
  /** The intent's event id (GetRequestAudit finds every event of the change under it). */
  auditEventId: string;
}

/**
 * Applies a change whose intent is stored, at most once (Redis keys it by its change id), and records its
 * outcome. When Redis fails the call (a timeout may still run the change later), the change is abandoned in
 * Redis right away, so that its fate is final: applied after all (answered as a success) or never
 * (`not_applied`, answered UNAVAILABLE "nothing was changed"). If that fails too the change stays open and
 * the reconciler records its outcome after the grace period; the call answers UNAVAILABLE saying so. An
 * outcome that cannot be stored does not fail an applied change (the reconciler records it later).
 *
 * @throws RouterError `dependency_unavailable` (Redis), `invalid_request` (Redis holds the change id for
 *   another change: its outcome `not_applied` is recorded first), ConnectError ABORTED (the reconciler
 *   abandoned the change first: the call was slower than the grace period).
 */
export async function applyRecordedChange(
  deps: BudgetChangeFlowDeps,
  target: BudgetChangeTarget,
  intent: AuditEvent,
  before: BudgetStatus,
): Promise<BudgetChangeAnswer> {
  const ref = { partition: target.budget.tenantId, id: target.budget.budgetId };
  let result: BudgetChangeResult | BudgetChangeFate;
  let storeFailure: LimitStoreUnavailableError | undefined;
  try {
    result = await target.store.applyBudgetChange(ref, target.changeId, target.change);
  } catch (error: unknown) {
    if (error instanceof BudgetChangeConflictError) {
      throw await conflictError(deps, target, intent, error);
    }
    if (!(error instanceof LimitStoreUnavailableError)) throw error;
    storeFailure = error;
    result = await abandonAfterFailure(deps, target, intent, error);
  }
  if (result.status === 'abandoned') {
    const reason = storeFailure === undefined ? 'abandoned' : `store_failure_${storeFailure.failure}`;
    await recordCallOutcome(deps, target.changeId, intent, {
      phase: 'not_applied',
      reason,
      recordedBy: 'call',
    });
    throw notAppliedError(target, intent, storeFailure);
  }
  const after = budgetStatus(target.budget, result.budget);
  await recordCallOutcome(deps, target.changeId, intent, {
    phase: 'applied',
    after: numbersOfStatus(after),
    recordedBy: 'call',
  });
  deps.logger.info(
    {
      actor: intent.actor,
      budgetId: target.budget.budgetId,
      tenantId: target.budget.tenantId,
      eventId: intent.eventId,
      changeId: target.changeId,
      replay: result.status === 'already-applied',
    },
    intent.message.replace(/^intent: /, ''),
  );
  return { before, after, auditEventId: intent.eventId };
}

/** How to retry a change that was not applied, for the call's error messages. */
export function retryHint(target: Pick<BudgetChangeTarget, 'idempotencyKey'>): string {
  return target.idempotencyKey === undefined ? 'retry' : 'retry with a new idempotency key';
}

/** Settles a change whose application failed: its fate in Redis, or UNAVAILABLE when Redis cannot tell. */
async function abandonAfterFailure(
  deps: BudgetChangeFlowDeps,
  target: BudgetChangeTarget,
  intent: AuditEvent,
  failure: LimitStoreUnavailableError,
): Promise<BudgetChangeFate> {
  try {
    return await target.store.abandonBudgetChange(
      { partition: target.budget.tenantId, id: target.budget.budgetId },
      target.changeId,
    );
  } catch (error: unknown) {
    deps.logger.warn(
      { err: error, changeId: target.changeId, eventId: intent.eventId, failure: failure.failure },
      'budget change left open: the shared limit store failed it and cannot say yet whether it ran',
    );
    const retry =
      target.idempotencyKey === undefined
        ? 'read the budget before retrying, or send an idempotency key (the idempotency_key field or the ' +
          'Idempotency-Key header) to make a retry safe'
        : 'a retry with the same idempotency key applies it at most once';
    throw new RouterError('dependency_unavailable', {
      message:
        `the shared limit store is unavailable (${failure.failure}); whether the change was applied is not ` +
        `known yet: its outcome is recorded within about ${String(Math.ceil(deps.graceMs / 1000))} s after ` +
        `the store is back (GetRequestAudit ${intent.eventId}); ${retry}`,
      cause: failure,
    });
  }
}

/**
 * Redis holds the change id for another change (one this audit store never saw: another control plane with
 * its own audit store, or an audit store lost while Redis kept its change ids). This change was not applied
 * and never will be under this id: its outcome is recorded now, and the caller must pick a new key.
 */
async function conflictError(
  deps: BudgetChangeFlowDeps,
  target: BudgetChangeTarget,
  intent: AuditEvent,
  conflict: BudgetChangeConflictError,
): Promise<Error> {
  await recordCallOutcome(deps, target.changeId, intent, {
    phase: 'not_applied',
    reason: 'change_id_conflict',
    recordedBy: 'call',
  });
  return new RouterError('invalid_request', {
    message:
      `idempotency key ${JSON.stringify(target.changeId)} was already used for another change (the shared ` +
      `limit store holds it); nothing was changed (audit ${intent.eventId}); use a new key for a new change`,
    cause: conflict,
  });
}

function notAppliedError(
  target: BudgetChangeTarget,
  intent: AuditEvent,
  storeFailure: LimitStoreUnavailableError | undefined,
): Error {
  if (storeFailure !== undefined) {
    return new RouterError('dependency_unavailable', {
      message:
        `the shared limit store is unavailable (${storeFailure.failure}); the change was not applied and ` +
        `never will be (audit ${intent.eventId}); ${retryHint(target)}`,
      cause: storeFailure,
    });
  }
  return new ConnectError(
    `the change was not applied: it took longer than the reconciliation grace period and was abandoned ` +
      `(audit ${intent.eventId}); nothing was changed; ${retryHint(target)}`,
    Code.Aborted,
  );
}

/**
 * Stores the outcome of the call's own change. Its failure does not fail the call: the change is audited
 * by its intent already, and the reconciler records the outcome from Redis later; until then it is in the
 * error log.
 */
async function recordCallOutcome(
  deps: BudgetChangeFlowDeps,
  changeId: string,
  intent: AuditEvent,
  outcome: BudgetChangeOutcome,
): Promise<void> {
  const event = budgetChangeOutcomeEvent(intent, outcome, deps.newEventId(), deps.clock.now());
  try {
    const recorded = await deps.changeLog.recordOutcome(changeId, event, deps.clock.now());
    if (!recorded.stored && recorded.outcome.attributes.phase !== outcome.phase) {
      deps.logger.error(
        { changeId, eventId: intent.eventId, ours: outcome.phase, stored: recorded.outcome.attributes.phase },
        'budget change outcome differs from the one already stored',
      );
    }
  } catch (error: unknown) {
    deps.logger.error(
      {
        err: error,
        eventId: event.eventId,
        intentEventId: intent.eventId,
        changeId,
        actor: event.actor,
        actorReason: event.actorReason,
        attributes: event.attributes,
      },
      'budget change outcome could not be stored (its intent is stored; the reconciler records it later)',
    );
  }
}
