import type { AuditEvent } from '@api-router/contracts';

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
