import type Database from 'better-sqlite3';
import type { AuditEvent } from '@api-router/contracts';
import {
  adminChangeFromRow,
  SELECT_ADMIN_CHANGE,
  type AdminChange,
  type AdminChangeLog,
  type AdminChangeRow,
} from './admin-change-log.js';

/** Schema of the change log (migration 2 of the SQLite audit store). */
export const SQLITE_ADMIN_CHANGES_MIGRATION = `CREATE TABLE IF NOT EXISTS admin_changes (
     change_id TEXT NOT NULL PRIMARY KEY,
     intent_event_id TEXT NOT NULL,
     intent_received_at_ms INTEGER NOT NULL,
     outcome_event_id TEXT
   );
   CREATE INDEX IF NOT EXISTS admin_changes_open ON admin_changes (intent_received_at_ms, change_id)
     WHERE outcome_event_id IS NULL;`;

/**
 * Inserts one audit event unless its event id is stored; true when it was inserted. `encoded`: the event's
 * bytes as received, stored as they are (absent: `event` is encoded).
 */
export type InsertSqliteEvent = (event: AuditEvent, receivedAtMs: number, encoded?: Uint8Array) => boolean;

/**
 * The SQLite {@link AdminChangeLog}: each call one immediate transaction (SQLite serialises writers, so the
 * conditional update alone keeps one outcome per change, also with a second connection to the file).
 * Synchronous like the rest of the store; `attempt` turns throws into rejections.
 */
export function createSqliteAdminChangeLog(
  db: Database.Database,
  insertEvent: InsertSqliteEvent,
  attempt: <T>(call: () => T) => Promise<T>,
): AdminChangeLog {
  const openChange = db.prepare(
    `INSERT INTO admin_changes (change_id, intent_event_id, intent_received_at_ms) VALUES (?, ?, ?)
     ON CONFLICT (change_id) DO NOTHING`,
  );
  const closeChange = db.prepare(
    'UPDATE admin_changes SET outcome_event_id = ? WHERE change_id = ? AND outcome_event_id IS NULL',
  );
  const selectChange = db.prepare(`${SELECT_ADMIN_CHANGE} WHERE c.change_id = ?`);
  const selectOpen = db.prepare(
    `${SELECT_ADMIN_CHANGE} WHERE c.outcome_event_id IS NULL AND c.intent_received_at_ms <= ?
     ORDER BY c.intent_received_at_ms, c.change_id LIMIT ?`,
  );
  const find = (changeId: string): AdminChange | undefined => {
    const row = selectChange.get(changeId) as AdminChangeRow | undefined;
    return row === undefined ? undefined : adminChangeFromRow(row);
  };
  const insertOrFail = (event: AuditEvent, receivedAtMs: number): void => {
    if (!insertEvent(event, receivedAtMs)) {
      throw new Error(`audit event id ${event.eventId} is already stored as another event`);
    }
  };

  const recordIntent = db.transaction((changeId: string, intent: AuditEvent, receivedAtMs: number) => {
    if (openChange.run(changeId, intent.eventId, receivedAtMs).changes === 1) {
      insertOrFail(intent, receivedAtMs);
      return {
        stored: true,
        change: { changeId, intent, outcome: undefined, intentStoredAtMs: receivedAtMs },
      };
    }
    return { stored: false, change: find(changeId)! };
  });
  const recordOutcome = db.transaction((changeId: string, outcome: AuditEvent, receivedAtMs: number) => {
    if (closeChange.run(outcome.eventId, changeId).changes === 1) {
      insertOrFail(outcome, receivedAtMs);
      return { stored: true, outcome };
    }
    const stored = find(changeId)?.outcome;
    if (stored === undefined) throw new Error(`admin change ${changeId} has no intent`);
    return { stored: false, outcome: stored };
  });

  return {
    recordIntent: (changeId, intent, receivedAtMs) =>
      attempt(() => recordIntent.immediate(changeId, intent, receivedAtMs)),
    recordOutcome: (changeId, outcome, receivedAtMs) =>
      attempt(() => recordOutcome.immediate(changeId, outcome, receivedAtMs)),
    findChange: (changeId) => attempt(() => find(changeId)),
    openChanges: (storedAtOrBeforeMs, limit) =>
      attempt(() => (selectOpen.all(storedAtOrBeforeMs, limit) as AdminChangeRow[]).map(adminChangeFromRow)),
  };
}
