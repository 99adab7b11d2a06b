import type pg from 'pg';
import type { AuditEvent } from '@api-router/contracts';
import {
  adminChangeFromRow,
  SELECT_ADMIN_CHANGE,
  type AdminChange,
  type AdminChangeLog,
  type AdminChangeRow,
} from './admin-change-log.js';

/** Schema of the change log (migration 2 of the Postgres audit store). */
export const POSTGRES_ADMIN_CHANGES_MIGRATION = `CREATE TABLE IF NOT EXISTS admin_changes (
     change_id TEXT NOT NULL PRIMARY KEY,
     intent_event_id TEXT NOT NULL,
     intent_received_at_ms BIGINT NOT NULL,
     outcome_event_id TEXT
   );
   CREATE INDEX IF NOT EXISTS admin_changes_open ON admin_changes (intent_received_at_ms, change_id)
     WHERE outcome_event_id IS NULL;`;

/** Inserts audit events that are not stored yet, on `client`; resolves with how many were. */
export type InsertPostgresEvents = (
  client: pg.ClientBase,
  events: readonly AuditEvent[],
  receivedAtMs: number,
) => Promise<number>;

async function find(client: pg.ClientBase | pg.Pool, changeId: string): Promise<AdminChange | undefined> {
  const result = await client.query<AdminChangeRow>(`${SELECT_ADMIN_CHANGE} WHERE c.change_id = $1`, [
    changeId,
  ]);
  const row = result.rows[0];
  return row === undefined ? undefined : adminChangeFromRow(row);
}

/**
 * Runs `body` in one READ COMMITTED transaction on a pooled connection. A connection whose statement failed
 * is not returned to the pool (it may be broken).
 */
async function inTransaction<T>(pool: pg.Pool, body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await body(client);
    await client.query('COMMIT');
    client.release();
    return result;
  } catch (error: unknown) {
    // Dropping the connection rolls the transaction back on the server. No ROLLBACK is sent: after a
    // statement's query timeout (a vanished host) it would wait out a second one before the call fails.
    client.release(true);
    throw error;
  }
}

/**
 * The Postgres {@link AdminChangeLog}. Several control planes may share the database: `recordIntent`'s
 * `INSERT … ON CONFLICT DO NOTHING` waits for a concurrent transaction inserting the same change id, and
 * `recordOutcome`'s conditional `UPDATE` for one closing it; at READ COMMITTED each then re-reads the row
 * and does nothing, so exactly one intent and one outcome are stored per change.
 */
export function createPostgresAdminChangeLog(
  pool: pg.Pool,
  insertEvents: InsertPostgresEvents,
): AdminChangeLog {
  const insertOrFail = async (client: pg.ClientBase, event: AuditEvent, receivedAtMs: number) => {
    if ((await insertEvents(client, [event], receivedAtMs)) !== 1) {
      throw new Error(`audit event id ${event.eventId} is already stored as another event`);
    }
  };
  return {
    recordIntent: (changeId, intent, receivedAtMs) =>
      inTransaction(pool, async (client) => {
        const opened = await client.query(
          `INSERT INTO admin_changes (change_id, intent_event_id, intent_received_at_ms) VALUES ($1, $2, $3)
           ON CONFLICT (change_id) DO NOTHING`,
          [changeId, intent.eventId, receivedAtMs],
        );
        if (opened.rowCount === 1) {
          await insertOrFail(client, intent, receivedAtMs);
          return {
            stored: true,
            change: { changeId, intent, outcome: undefined, intentStoredAtMs: receivedAtMs },
          };
        }
        const change = await find(client, changeId);
        if (change === undefined) throw new Error(`admin change ${changeId} vanished`);
        return { stored: false, change };
      }),

    recordOutcome: (changeId, outcome, receivedAtMs) =>
      inTransaction(pool, async (client) => {
        const closed = await client.query(
          'UPDATE admin_changes SET outcome_event_id = $2 WHERE change_id = $1 AND outcome_event_id IS NULL',
          [changeId, outcome.eventId],
        );
        if (closed.rowCount === 1) {
          await insertOrFail(client, outcome, receivedAtMs);
          return { stored: true, outcome };
        }
        const stored = (await find(client, changeId))?.outcome;
        if (stored === undefined) throw new Error(`admin change ${changeId} has no intent`);
        return { stored: false, outcome: stored };
      }),

    findChange: (changeId) => find(pool, changeId),

    async openChanges(storedAtOrBeforeMs, limit) {
      const result = await pool.query<AdminChangeRow>(
        `${SELECT_ADMIN_CHANGE} WHERE c.outcome_event_id IS NULL AND c.intent_received_at_ms <= $1
         ORDER BY c.intent_received_at_ms, c.change_id LIMIT $2`,
        [storedAtOrBeforeMs, limit],
      );
      return result.rows.map(adminChangeFromRow);
    },
  };
}
