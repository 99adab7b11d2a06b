import { Code, ConnectError } from '@connectrpc/connect';
import { RouterError } from '@api-router/errors';
import type { AdminChange } from '../audit/admin-change-log.js';
import { readBudgetChangeIntent, readBudgetChangeOutcome, sameBudgetChange } from './budget-change-event.js';
import {
  applyRecordedChange,
  type BudgetChangeAnswer,
  type BudgetChangeFlowDeps,
  type BudgetChangeTarget,
} from './budget-change-flow.js';
import { budgetStatusFromNumbers } from './budget-status.js';

export interface BudgetChangeReplayDeps extends BudgetChangeFlowDeps {
  /** How long after its intent a change can still be applied safely (decidableForMs), ms. */
  decidableForMs: number;
}

/**
 * A change call whose idempotency key (field or header) names a change already recorded: answers it as the
 * first call was answered (numbers before and after from its audit events) without changing anything again.
 * A change the first call left without an outcome (it stopped, or Redis failed) is applied now — at most
 * once, Redis keys it by the same change id — unless it is too old for Redis to remember it.
 *
 * @throws RouterError `invalid_request` when the key was used for another change; ConnectError ABORTED when
 *   the change was not applied, FAILED_PRECONDITION when its outcome is unknown or it is too old to replay.
 */
export async function replayBudgetChange(
  deps: BudgetChangeReplayDeps,
  target: BudgetChangeTarget,
  recorded: AdminChange,
): Promise<BudgetChangeAnswer> {
  const intent = readBudgetChangeIntent(recorded.intent);
  if (
    intent === undefined ||
    intent.before === undefined ||
    intent.tenantId !== target.budget.tenantId ||
    intent.budgetId !== target.budget.budgetId ||
    !sameBudgetChange(intent.change, target.change)
  ) {
    throw new RouterError('invalid_request', {
      message:
        `idempotency key ${JSON.stringify(target.changeId)} was already used for another change ` +
        `(${recorded.intent.message}); use a new key for a new change`,
    });
  }
  const before = budgetStatusFromNumbers(target.budget, intent.before);
  const auditEventId = recorded.intent.eventId;
  if (recorded.outcome === undefined) {
    if (deps.clock.now() - recorded.intentStoredAtMs >= deps.decidableForMs) {
      throw new ConnectError(
        `the change with this idempotency key was never recorded as applied and is too old to replay safely ` +
          `(audit ${auditEventId}); read the budget, then make the change again with a new key if needed`,
        Code.FailedPrecondition,
      );
    }
    return applyRecordedChange(deps, target, recorded.intent, before);
  }
  const outcome = readBudgetChangeOutcome(recorded.outcome);
  switch (outcome?.phase) {
    case 'applied':
      return { before, after: budgetStatusFromNumbers(target.budget, outcome.after), auditEventId };
    case 'not_applied':
      throw new ConnectError(
        `the change with this idempotency key was not applied (${outcome.reason}; audit ${auditEventId}); ` +
          'nothing was changed; retry with a new idempotency key',
        Code.Aborted,
      );
    default:
      throw new ConnectError(
        `the outcome of the change with this idempotency key is unknown (audit ${auditEventId}); read the ` +
          'budget, then make the change again with a new key if needed',
        Code.FailedPrecondition,
      );
  }
}
