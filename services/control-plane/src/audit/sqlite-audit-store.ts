import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { fromBinary } from '@bufbuild/protobuf';
import { AuditEventKind, AuditEventSchema, type AuditEvent } from '@api-router/contracts';
import type { AdminChangeLog } from './admin-change-log.js';
import { buildAuditListQuery } from './audit-list-query.js';
import { USAGE_RECORDS_STARTED_INDEX } from './record-retention.js';
import { fromUsageRow, toAuditEventRow, toUsageRow } from './audit-row.js';
import {
  MAX_EVENTS_PER_REQUEST,
  MAX_USAGE_RECORDS_PER_REQUEST,
  type AuditStore,
  type IngestOutcome,
  type StorableRecord,
} from './audit-store.js';
import {
  SQLITE_ADMIN_CHANGES_MIGRATION,
  createSqliteAdminChangeLog,
  type InsertSqliteEvent,
} from './sqlite-admin-change-log.js';

/**
 * Ordered schema migrations; entry i brings the schema to version i + 1. Append only: a released entry is
 * never edited (a store opened on an older file applies just the missing ones).
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS audit_events (
     event_id TEXT NOT NULL PRIMARY KEY,
     request_id TEXT NOT NULL,
     tenant_id TEXT NOT NULL,
     kind INTEGER NOT NULL,
     at_ms INTEGER NOT NULL,
     reason_code TEXT NOT NULL,
     data_plane_id TEXT NOT NULL,
     received_at_ms INTEGER NOT NULL,
     record BLOB NOT NULL
   );
   CREATE INDEX IF NOT EXISTS audit_events_request ON audit_events (request_id, at_ms, event_id);
   CREATE INDEX IF NOT EXISTS audit_events_at ON audit_events (at_ms DESC, event_id DESC);
   CREATE INDEX IF NOT EXISTS audit_events_tenant_at ON audit_events (tenant_id, at_ms DESC, event_id DESC);
   CREATE TABLE IF NOT EXISTS usage_records (
     request_id TEXT NOT NULL PRIMARY KEY,
     tenant_id TEXT NOT NULL,
     started_at_ms INTEGER NOT NULL,
     status_code INTEGER NOT NULL,
     data_plane_id TEXT NOT NULL,
     received_at_ms INTEGER NOT NULL,
     record BLOB NOT NULL
   );`,
  SQLITE_ADMIN_CHANGES_MIGRATION,
  USAGE_RECORDS_STARTED_INDEX,
  // 4: usage records are keyed by their own record_id, request_id becomes an indexed column (a client may
  // reuse a request id: ADR 0011); a row stored before keeps its request id as record id. SQLite cannot
  // change a primary key in place: the table is copied, which drops its indexes: made again here (the last
  // one is migration 3's, spelled out so that this entry never changes).
  `CREATE TABLE usage_records_v4 (
     record_id TEXT NOT NULL PRIMARY KEY,
     request_id TEXT NOT NULL,
     tenant_id TEXT NOT NULL,
     started_at_ms INTEGER NOT NULL,
     status_code INTEGER NOT NULL,
     data_plane_id TEXT NOT NULL,
     received_at_ms INTEGER NOT NULL,
     record BLOB NOT NULL
   );
   INSERT INTO usage_records_v4 (record_id, request_id, tenant_id, started_at_ms, status_code, data_plane_id,
       received_at_ms, record)
     SELECT request_id, request_id, tenant_id, started_at_ms, status_code, data_plane_id, received_at_ms, record
     FROM usage_records;
   DROP TABLE usage_records;
   ALTER TABLE usage_records_v4 RENAME TO usage_records;
   CREATE INDEX usage_records_request ON usage_records (request_id, started_at_ms, record_id);
   CREATE INDEX usage_records_started ON usage_records (started_at_ms);`,
];

export interface SqliteAuditStoreOptions {
  /** Database file, e.g. `<CP_STATE_DIR>/audit.sqlite`; its directory is created if missing. */
  path: string;
}

/**
 * The embedded audit store: one SQLite file in WAL mode (readers never block the writer) with
 * synchronous=FULL, so an acknowledged batch survives a power loss, not only a crash of the process.
 * better-sqlite3 is synchronous: each call blocks the event loop for its statement, which is fine for the
 * embedded default's volumes (one transaction per ingested batch); at scale use Postgres.
 *
 * @throws when the file cannot be opened or migrated (corrupt, or written by a newer schema).
 */
export async function openSqliteAuditStore(
  options: SqliteAuditStoreOptions,
): Promise<AuditStore & AdminChangeLog> {
  await mkdir(dirname(options.path), { recursive: true });
  const db = new Database(options.path);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    migrateSqliteAuditSchema(db);
  } catch (error: unknown) {
    db.close();
    throw error;
  }
  return createStore(db);
}

/**
 * Brings the schema to `throughVersion` (default: the newest), in one transaction. Exported for tests, which
 * make the schema of an older control plane with it.
 */
export function migrateSqliteAuditSchema(db: Database.Database, throughVersion = MIGRATIONS.length): void {
  db.transaction(() => {
    db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL PRIMARY KEY)');
    const row = db.prepare('SELECT MAX(version) AS version FROM schema_version').get() as {
      version: number | null;
    };
    const current = row.version ?? 0;
    if (current > MIGRATIONS.length) {
      throw new Error(
        `audit store schema version ${current} is newer than this build knows (${MIGRATIONS.length})`,
      );
    }
    for (let version = current + 1; version <= Math.min(throughVersion, MIGRATIONS.length); version += 1) {
      db.exec(MIGRATIONS[version - 1]!);
      db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(version);
    }
  }).immediate();
}

/** Inserts one audit event unless its event_id is stored (then false). Runs inside the caller's transaction. */
function prepareInsertEvent(db: Database.Database): InsertSqliteEvent {
  const insertEvent = db.prepare(
    `INSERT INTO audit_events (event_id, request_id, tenant_id, kind, at_ms, reason_code, data_plane_id,
       received_at_ms, record)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING`,
  );
  return (event: AuditEvent, receivedAtMs: number, encoded?: Uint8Array) => {
    const row = toAuditEventRow(event, encoded);
    const { changes } = insertEvent.run(
      row.eventId,
      row.requestId,
      row.tenantId,
      row.kind,
      row.atMs,
      row.reasonCode,
      row.dataPlaneId,
      receivedAtMs,
      row.record,
    );
    return changes === 1;
  };
}

/** One immediate transaction per batch: the whole batch is stored, or none of it. */
function prepareIngest(
  db: Database.Database,
  insertEvent: InsertSqliteEvent,
): (records: readonly StorableRecord[], receivedAtMs: number) => IngestOutcome {
  const insertUsage = db.prepare(
    `INSERT INTO usage_records (record_id, request_id, tenant_id, started_at_ms, status_code, data_plane_id,
       received_at_ms, record)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (record_id) DO NOTHING`,
  );
  const transaction = db.transaction((records: readonly StorableRecord[], receivedAtMs: number) => {
    const outcome: IngestOutcome = { storedAudit: 0, storedUsage: 0, duplicates: 0 };
    for (const record of records) {
      if (record.type === 'audit') {
        if (insertEvent(record.event, receivedAtMs, record.encoded)) outcome.storedAudit += 1;
        else outcome.duplicates += 1;
      } else {
        const row = toUsageRow(record.usage, record.encoded);
        const { changes } = insertUsage.run(
          row.recordId,
          row.requestId,
          row.tenantId,
          row.startedAtMs,
          row.statusCode,
          row.dataPlaneId,
          receivedAtMs,
          row.record,
        );
        if (changes === 1) outcome.storedUsage += 1;
        else outcome.duplicates += 1;
      }
    }
    return outcome;
  });

  return (records, receivedAtMs) => transaction.immediate(records, receivedAtMs);
}

function createStore(db: Database.Database): AuditStore & AdminChangeLog {
  const insertEvent = prepareInsertEvent(db);
  const ingestAll = prepareIngest(db, insertEvent);
  const selectEvents = db.prepare(
    'SELECT record FROM audit_events WHERE request_id = ? ORDER BY at_ms, event_id LIMIT ?',
  );
  const selectUsage = db.prepare(
    'SELECT record_id, record FROM usage_records WHERE request_id = ? ORDER BY started_at_ms, record_id LIMIT ?',
  );
  const deleteUsage = db.prepare(
    `DELETE FROM usage_records WHERE rowid IN
       (SELECT rowid FROM usage_records WHERE started_at_ms < ? LIMIT ?)`,
  );
  const deleteEvents = db.prepare(
    `DELETE FROM audit_events WHERE rowid IN
       (SELECT rowid FROM audit_events WHERE at_ms < ? AND kind <> ? LIMIT ?)`,
  );

  let closed = false;
  return {
    ...createSqliteAdminChangeLog(db, insertEvent, attempt),
    ingest: (records, receivedAtMs) => attempt(() => ingestAll(records, receivedAtMs)),

    eventsForRequest: (requestId) =>
      attempt(() => {
        const rows = selectEvents.all(requestId, MAX_EVENTS_PER_REQUEST) as { record: Buffer }[];
        return rows.map((row) => fromBinary(AuditEventSchema, row.record));
      }),

    usageForRequest: (requestId) =>
      attempt(() => {
        const rows = selectUsage.all(requestId, MAX_USAGE_RECORDS_PER_REQUEST) as {
          record_id: string;
          record: Buffer;
        }[];
        return rows.map((row) => fromUsageRow(row.record_id, row.record));
      }),

    list: (filter, page) =>
      attempt(() => {
        const query = buildAuditListQuery(filter, page, () => '?');
        const rows = db.prepare(query.sql).all(...query.parameters) as {
          event_id: string;
          at_ms: number;
          record: Buffer;
        }[];
        const pageRows = rows.slice(0, page.limit);
        const last = pageRows.at(-1);
        return {
          events: pageRows.map((row) => fromBinary(AuditEventSchema, row.record)),
          next: rows.length > page.limit && last ? { atMs: last.at_ms, eventId: last.event_id } : undefined,
        };
      }),

    prune: (beforeMs, limit) =>
      attempt(() => ({
        usage: deleteUsage.run(beforeMs, limit).changes,
        audit: deleteEvents.run(beforeMs, AuditEventKind.ADMIN_CHANGE, limit).changes,
      })),

    close() {
      if (!closed) {
        closed = true;
        db.close();
      }
      return Promise.resolve();
    },
  };
}

/** Runs a synchronous better-sqlite3 call so that its exceptions become rejections, as the interface says. */
function attempt<T>(call: () => T): Promise<T> {
  try {
    return Promise.resolve(call());
  } catch (error: unknown) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}
