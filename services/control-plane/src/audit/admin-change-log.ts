import { fromBinary } from '@bufbuild/protobuf';
import { AuditEventSchema, type AuditEvent } from '@api-router/contracts';

/** One audited admin change: its intent event and, once known, its one outcome event. */
export interface AdminChange {
  readonly changeId: string;
  readonly intent: AuditEvent;
  /** undefined while the change is open (outcome not recorded yet). */
  readonly outcome: AuditEvent | undefined;
  /** When the intent was stored (the `receivedAtMs` given to recordIntent), ms since the epoch. */
  readonly intentStoredAtMs: number;
}

/**
 * The intent → outcome bookkeeping of admin changes (budget changes today), kept by the audit store next to
 * the events themselves (table `admin_changes`: change id, intent event id, when it was stored, outcome
 * event id or NULL while open). Both events are ordinary audit events as well (GetRequestAudit and
 * ListAuditEvents see them). Every method is one transaction and rejects when the database fails.
 *
 * Exactly one outcome per change: `recordOutcome` sets the outcome with a conditional update (`… WHERE
 * outcome_event_id IS NULL`) in the transaction that inserts the outcome event, so of two control planes
 * (or a call and the reconciler) recording at once, one stores its event and the other gets the first one
 * back. Implemented by the SQLite and the Postgres audit stores (contract: audit-store-contract.test-support.ts).
 */
export interface AdminChangeLog {
  /**
   * Stores `intent` (an audit event) as the intent of `changeId` and opens the change — unless the change
   * id already has an intent: then nothing is stored and the change as stored is returned (`stored: false`).
   *
   * @param receivedAtMs now (ms since the epoch): the event's `received_at_ms` and the open change's age.
   * @throws Error when the intent's event id is already stored as another event (nothing is stored).
   */
  recordIntent(
    changeId: string,
    intent: AuditEvent,
    receivedAtMs: number,
  ): Promise<{ stored: boolean; change: AdminChange }>;
  /**
   * Stores `outcome` as the one outcome of `changeId` and closes the change — unless it already has one:
   * then nothing is stored and the stored outcome is returned (`stored: false`).
   *
   * @throws Error when the change id has no intent, or the outcome's event id is already stored.
   */
  recordOutcome(
    changeId: string,
    outcome: AuditEvent,
    receivedAtMs: number,
  ): Promise<{ stored: boolean; outcome: AuditEvent }>;
  /** The change, or undefined when the change id has no intent. */
  findChange(changeId: string): Promise<AdminChange | undefined>;
  /**
   * Open changes (intent, no outcome) whose intent was stored at or before `storedAtOrBeforeMs`, oldest
   * first, at most `limit` (an index keeps this proportional to the open changes, not to all of them).
   */
  openChanges(storedAtOrBeforeMs: number, limit: number): Promise<AdminChange[]>;
}

/** A row of {@link SELECT_ADMIN_CHANGE}, as either database driver returns it. */
export interface AdminChangeRow {
  change_id: string;
  /** BIGINT: pg returns it as a string, better-sqlite3 as a number. */
  intent_received_at_ms: number | string;
  intent: Buffer;
  outcome: Buffer | null;
}

/** A change with its intent and outcome events (SQL common to SQLite and Postgres; add a WHERE clause). */
export const SELECT_ADMIN_CHANGE = `SELECT c.change_id, c.intent_received_at_ms, i.record AS intent, o.record AS outcome
  FROM admin_changes c
  JOIN audit_events i ON i.event_id = c.intent_event_id
  LEFT JOIN audit_events o ON o.event_id = c.outcome_event_id`;

export function adminChangeFromRow(row: AdminChangeRow): AdminChange {
  return {
    changeId: row.change_id,
    intent: fromBinary(AuditEventSchema, row.intent),
    outcome: row.outcome === null ? undefined : fromBinary(AuditEventSchema, row.outcome),
    intentStoredAtMs: Number(row.intent_received_at_ms),
  };
}
