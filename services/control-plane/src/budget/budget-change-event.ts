import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { AuditEventKind, AuditEventSchema, type AuditEvent, type BudgetStatus } from '@api-router/contracts';
import type { PolicyBudget } from './find-policy-budget.js';

/** Which budget change an operator made. */
export type BudgetChange =
  | { readonly operation: 'top_up'; readonly amountMicros: number }
  | { readonly operation: 'reset' }
  | { readonly operation: 'set_limit'; readonly limitMicros: number | null };

/** Data plane id stamped on events the control plane itself writes. */
export const CONTROL_PLANE_ORIGIN = 'control-plane';

/**
 * Where a budget change stands. `intent`: written before the store is touched (a change is never applied
 * without it). `applied`: the store applied it (numbers after). `failed`: the store call failed — for a
 * timeout the change may still have run (`store_failure` says which failure).
 */
export type BudgetChangePhase =
  | { readonly phase: 'intent' }
  | { readonly phase: 'applied'; readonly after: BudgetStatus }
  | { readonly phase: 'failed'; readonly failure: string };

export interface BudgetChangeEventInit {
  readonly eventId: string;
  /** The intent event's id (= its own for the intent): both events of a change share it as request id. */
  readonly intentEventId: string;
  readonly atMs: number;
  readonly budget: PolicyBudget;
  readonly change: BudgetChange;
  /** Admin token id that made the change. */
  readonly actor: string;
  readonly reason: string;
  readonly before: BudgetStatus;
  readonly outcome: BudgetChangePhase;
}

/**
 * An ADMIN_CHANGE audit event of a budget change: actor and reason, the change's parameters, the budget's
 * numbers before it, the phase (`intent`, then `applied` with the numbers after, or `failed`). request_id =
 * the intent's event id for both events of a change, so GetRequestAudit with the id the admin call returned
 * shows the intent and its outcome.
 */
export function budgetChangeEvent(init: BudgetChangeEventInit): AuditEvent {
  const { budget, change, outcome } = init;
  return create(AuditEventSchema, {
    eventId: init.eventId,
    requestId: init.intentEventId,
    at: timestampFromMs(init.atMs),
    kind: AuditEventKind.ADMIN_CHANGE,
    tenantId: budget.tenantId,
    keyPublicId: budget.keyPublicId ?? '',
    reasonCode: `budget_${change.operation}`,
    message: describe(budget.budgetId, change, outcome),
    attributes: {
      operation: `budget_${change.operation}`,
      budget_id: budget.budgetId,
      phase: outcome.phase,
      ...(outcome.phase === 'intent' ? {} : { intent_event_id: init.intentEventId }),
      ...changeAttributes(change),
      ...numbers('before', init.before),
      ...(outcome.phase === 'applied' ? numbers('after', outcome.after) : {}),
      ...(outcome.phase === 'failed' ? { store_failure: outcome.failure } : {}),
    },
    actor: init.actor,
    actorReason: init.reason,
    dataPlaneId: CONTROL_PLANE_ORIGIN,
  });
}

function describe(budgetId: string, change: BudgetChange, outcome: BudgetChangePhase): string {
  const what = describeChange(budgetId, change);
  switch (outcome.phase) {
    case 'intent':
      return `intent: ${what}`;
    case 'applied':
      return what;
    case 'failed':
      return `failed (${outcome.failure}; after a timeout it may still have been applied): ${what}`;
  }
}

function describeChange(budgetId: string, change: BudgetChange): string {
  switch (change.operation) {
    case 'top_up':
      return `budget ${budgetId} topped up by ${change.amountMicros} micros`;
    case 'reset':
      return `budget ${budgetId} reset (spend and top-ups of this period zeroed)`;
    case 'set_limit':
      return change.limitMicros === null
        ? `budget ${budgetId} limit override cleared (policy limit applies)`
        : `budget ${budgetId} limit set to ${change.limitMicros} micros`;
  }
}

function changeAttributes(change: BudgetChange): Record<string, string> {
  switch (change.operation) {
    case 'top_up':
      return { amount_micros: String(change.amountMicros) };
    case 'reset':
      return {};
    case 'set_limit':
      return change.limitMicros === null
        ? { use_policy_limit: 'true' }
        : { limit_micros: String(change.limitMicros) };
  }
}

function numbers(prefix: 'before' | 'after', status: BudgetStatus): Record<string, string> {
  return {
    [`${prefix}_limit_micros`]: status.limitMicros.toString(),
    [`${prefix}_spent_micros`]: status.spentMicros.toString(),
    [`${prefix}_reserved_micros`]: status.reservedMicros.toString(),
    [`${prefix}_remaining_micros`]: status.remainingMicros.toString(),
  };
}
