import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { AuditEventKind, AuditEventSchema, type AuditEvent } from '@api-router/contracts';
import type { BudgetChange } from '@api-router/limits';
import type { PolicyBudget } from './find-policy-budget.js';
import { numbersAttributes, readNumbersAttributes, type BudgetNumbers } from './budget-numbers.js';

export type { BudgetChange } from '@api-router/limits';

/** Data plane id stamped on events the control plane itself writes. */
export const CONTROL_PLANE_ORIGIN = 'control-plane';

/**
 * How a budget change ended, recorded once per change (the audit store keeps exactly one outcome event):
 * - `applied`: Redis applied it (numbers right after it);
 * - `not_applied`: Redis never applied it and never will under this change id (it was abandoned there
 *   first: by the call after a store failure, or by the reconciler); the operator may retry;
 * - `unknown`: the reconciler came too late to ask Redis (the change id was no longer remembered); the
 *   budget must be read to know.
 * `recordedBy`: `call` (the admin call itself) or `reconciler` (the control plane's reconciler, for a
 * change whose call stopped before recording it).
 */
export type BudgetChangeOutcome =
  | { readonly phase: 'applied'; readonly after: BudgetNumbers; readonly recordedBy: RecordedBy }
  | { readonly phase: 'not_applied'; readonly reason: string; readonly recordedBy: RecordedBy }
  | { readonly phase: 'unknown'; readonly reason: string; readonly recordedBy: RecordedBy };

export type RecordedBy = 'call' | 'reconciler';

export interface BudgetChangeIntentInit {
  readonly eventId: string;
  /** The change id (the caller's idempotency key, else the intent's event id): Redis and the audit store key the change by it. */
  readonly changeId: string;
  readonly atMs: number;
  readonly budget: PolicyBudget;
  readonly change: BudgetChange;
  /** Admin token id that made the change. */
  readonly actor: string;
  readonly reason: string;
  readonly before: BudgetNumbers;
}

/**
 * The ADMIN_CHANGE `intent` event of a budget change, written before the store is touched (a change is
 * never applied without it): actor and reason, the change's parameters, the budget's numbers before it, the
 * change id. request_id = its own event id, which every event of the change shares, so GetRequestAudit with
 * the id the admin call returned shows the intent and its outcome.
 */
export function budgetChangeIntentEvent(init: BudgetChangeIntentInit): AuditEvent {
  const { budget, change } = init;
  return create(AuditEventSchema, {
    eventId: init.eventId,
    requestId: init.eventId,
    at: timestampFromMs(init.atMs),
    kind: AuditEventKind.ADMIN_CHANGE,
    tenantId: budget.tenantId,
    keyPublicId: budget.keyPublicId ?? '',
    reasonCode: `budget_${change.operation}`,
    message: `intent: ${describeChange(budget.budgetId, change)}`,
    attributes: {
      operation: `budget_${change.operation}`,
      budget_id: budget.budgetId,
      phase: 'intent',
      change_id: init.changeId,
      ...changeAttributes(change),
      ...numbersAttributes('before', init.before),
    },
    actor: init.actor,
    actorReason: init.reason,
    dataPlaneId: CONTROL_PLANE_ORIGIN,
  });
}

/**
 * The outcome event of the change whose intent is `intent`: the intent's fields and attributes (actor,
 * reason, change, numbers before) plus the phase, `intent_event_id`, `recorded_by`, the numbers after
 * (`applied`) or `outcome_reason`.
 */
export function budgetChangeOutcomeEvent(
  intent: AuditEvent,
  outcome: BudgetChangeOutcome,
  eventId: string,
  atMs: number,
): AuditEvent {
  const what = intent.message.replace(/^intent: /, '');
  return create(AuditEventSchema, {
    eventId,
    requestId: intent.requestId,
    at: timestampFromMs(atMs),
    kind: intent.kind,
    tenantId: intent.tenantId,
    keyPublicId: intent.keyPublicId,
    reasonCode: intent.reasonCode,
    message: describeOutcome(what, outcome),
    actor: intent.actor,
    actorReason: intent.actorReason,
    dataPlaneId: intent.dataPlaneId,
    attributes: {
      ...intent.attributes,
      phase: outcome.phase,
      intent_event_id: intent.eventId,
      recorded_by: outcome.recordedBy,
      ...(outcome.phase === 'applied'
        ? numbersAttributes('after', outcome.after)
        : { outcome_reason: outcome.reason }),
    },
  });
}

/** A budget change as its intent event recorded it. */
export interface RecordedBudgetChange {
  readonly changeId: string;
  readonly tenantId: string;
  readonly budgetId: string;
  readonly change: BudgetChange;
  /** undefined when the intent's numbers are missing (never for an intent this build wrote). */
  readonly before: BudgetNumbers | undefined;
}

/** Reads the change back from its intent event; undefined when it is not a budget change intent. */
export function readBudgetChangeIntent(event: AuditEvent): RecordedBudgetChange | undefined {
  const attributes = event.attributes;
  const budgetId = attributes.budget_id;
  const changeId = attributes.change_id;
  if (event.kind !== AuditEventKind.ADMIN_CHANGE || attributes.phase !== 'intent') return undefined;
  if (budgetId === undefined || budgetId === '' || changeId === undefined || changeId === '')
    return undefined;
  const change = readChange(attributes);
  if (change === undefined) return undefined;
  return {
    changeId,
    tenantId: event.tenantId,
    budgetId,
    change,
    before: readNumbersAttributes('before', attributes),
  };
}

/** Reads an outcome event back; undefined when it is not one this build writes. */
export function readBudgetChangeOutcome(event: AuditEvent): BudgetChangeOutcome | undefined {
  const attributes = event.attributes;
  const recordedBy: RecordedBy = attributes.recorded_by === 'reconciler' ? 'reconciler' : 'call';
  const reason = attributes.outcome_reason ?? '';
  switch (attributes.phase) {
    case 'applied': {
      const after = readNumbersAttributes('after', attributes);
      return after === undefined ? undefined : { phase: 'applied', after, recordedBy };
    }
    case 'not_applied':
    case 'unknown':
      return { phase: attributes.phase, reason, recordedBy };
    default:
      return undefined;
  }
}

/** Whether two changes are the same operation with the same amount. */
export function sameBudgetChange(left: BudgetChange, right: BudgetChange): boolean {
  const amount = (change: BudgetChange): number =>
    change.operation === 'top_up'
      ? change.amountMicros
      : change.operation === 'set_limit'
        ? (change.limitMicros ?? -1)
        : 0;
  return left.operation === right.operation && amount(left) === amount(right);
}

function readChange(attributes: Readonly<Record<string, string>>): BudgetChange | undefined {
  const micros = (name: string): number | undefined => {
    const text = attributes[name];
    return text !== undefined && /^\d{1,16}$/.test(text) ? Number(text) : undefined;
  };
  switch (attributes.operation) {
    case 'budget_top_up': {
      const amountMicros = micros('amount_micros');
      return amountMicros === undefined ? undefined : { operation: 'top_up', amountMicros };
    }
    case 'budget_reset':
      return { operation: 'reset' };
    case 'budget_set_limit': {
      if (attributes.use_policy_limit === 'true') return { operation: 'set_limit', limitMicros: null };
      const limitMicros = micros('limit_micros');
      return limitMicros === undefined ? undefined : { operation: 'set_limit', limitMicros };
    }
    default:
      return undefined;
  }
}

function describeOutcome(what: string, outcome: BudgetChangeOutcome): string {
  switch (outcome.phase) {
    case 'applied':
      return outcome.recordedBy === 'call'
        ? what
        : `${what} (recorded by the reconciler: applied before the call could record it)`;
    case 'not_applied':
      return (
        `not applied (${outcome.reason}): ${what}; nothing was changed and this change will never ` +
        'be applied — the operator may retry it'
      );
    case 'unknown':
      return `outcome unknown (${outcome.reason}): ${what}; read the budget to know whether it was applied`;
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
