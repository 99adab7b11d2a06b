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

export interface BudgetChangeEventInit {
  readonly eventId: string;
  readonly atMs: number;
  readonly budget: PolicyBudget;
  readonly change: BudgetChange;
  /** Admin token id that made the change. */
  readonly actor: string;
  readonly reason: string;
  readonly before: BudgetStatus;
  readonly after: BudgetStatus;
}

/**
 * The ADMIN_CHANGE audit event of a budget change: actor and reason, the change's parameters and the
 * budget's numbers before and after it. request_id = event_id, so GetRequestAudit finds the event by the
 * id the admin call returned.
 */
export function budgetChangeEvent(init: BudgetChangeEventInit): AuditEvent {
  const { budget, change } = init;
  return create(AuditEventSchema, {
    eventId: init.eventId,
    requestId: init.eventId,
    at: timestampFromMs(init.atMs),
    kind: AuditEventKind.ADMIN_CHANGE,
    tenantId: budget.tenantId,
    keyPublicId: budget.keyPublicId ?? '',
    reasonCode: `budget_${change.operation}`,
    message: describe(budget.budgetId, change),
    attributes: {
      operation: `budget_${change.operation}`,
      budget_id: budget.budgetId,
      ...changeAttributes(change),
      ...numbers('before', init.before),
      ...numbers('after', init.after),
    },
    actor: init.actor,
    actorReason: init.reason,
    dataPlaneId: CONTROL_PLANE_ORIGIN,
  });
}

function describe(budgetId: string, change: BudgetChange): string {
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
