import pg from 'pg';
import { fromBinary } from '@bufbuild/protobuf';
import { AuditEventKind, AuditEventSchema } from '@api-router/contracts';
import type { Logger } from 'pino';
import type { AdminChangeLog } from './admin-change-log.js';
import { buildAuditListQuery } from './audit-list-query.js';
import { USAGE_RECORDS_STARTED_INDEX } from './record-retention.js';
import { fromUsageRow, toAuditEventRow, toUsageRow, type AuditEventRow, type UsageRow } from './audit-row.js';
import {
  MAX_EVENTS_PER_REQUEST,
  MAX_USAGE_RECORDS_PER_REQUEST,
  type AuditStore,
  type IngestOutcome,
  type StorableRecord,
} from './audit-store.js';
import {
  POSTGRES_ADMIN_CHANGES_MIGRATION,
  createPostgresAdminChangeLog,
} from './postgres-admin-change-log.js';

/**
 * Ordered schema migrations; entry i brings the schema to version i + 1. Append only. event_id is
 * collated "C" (byte order) so that pages are ordered like the SQLite store's, whatever the database's
 * locale.
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS audit_events (
     event_id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
     request_id TEXT NOT NULL,
     tenant_id TEXT NOT NULL,
     kind INTEGER NOT NULL,
     at_ms BIGINT NOT NULL,
     reason_code TEXT NOT NULL,
     data_plane_id TEXT NOT NULL,
     received_at_ms BIGINT NOT NULL,
     record BYTEA NOT NULL
   );
   CREATE INDEX IF NOT EXISTS audit_events_request ON audit_events (request_id, at_ms, event_id);
   CREATE INDEX IF NOT EXISTS audit_events_at ON audit_events (at_ms DESC, event_id DESC);
   CREATE INDEX IF NOT EXISTS audit_events_tenant_at ON audit_events (tenant_id, at_ms DESC, event_id DESC);
   CREATE TABLE IF NOT EXISTS usage_records (
     request_id TEXT NOT NULL PRIMARY KEY,
     tenant_id TEXT NOT NULL,
     started_at_ms BIGINT NOT NULL,
     status_code INTEGER NOT NULL,
     data_plane_id TEXT NOT NULL,
     received_at_ms BIGINT NOT NULL,
     record BYTEA NOT NULL
   );`,
  POSTGRES_ADMIN_CHANGES_MIGRATION,
  USAGE_RECORDS_STARTED_INDEX,
  // 4: usage records are keyed by their own record_id, request_id becomes an indexed column (a client may
  // reuse a request id: ADR 0011); a row stored before keeps its request id as record id. The UPDATE
  // rewrites every row once, under the migration's lock (ingest waits for it).
  `ALTER TABLE usage_records ADD COLUMN record_id TEXT COLLATE "C";
   UPDATE usage_records SET record_id = request_id;
   ALTER TABLE usage_records ALTER COLUMN record_id SET NOT NULL;
   ALTER TABLE usage_records DROP CONSTRAINT usage_records_pkey;
   ALTER TABLE usage_records ADD CONSTRAINT usage_records_pkey PRIMARY KEY (record_id);
   CREATE INDEX usage_records_request ON usage_records (request_id, started_at_ms, record_id);`,
];

/** Serialises migrations of control-plane replicas that start together (any constant works, fixed forever). */
const MIGRATION_LOCK_ID = 0x6175_6469; // "audi"

export interface PostgresAuditStoreOptions {
  /** postgres://user@host:port/database (CP_DATABASE_URL). */
  connectionString: string;
  /** Pool size; default 4. */
  maxConnections?: number;
  /** Time to wait for a pooled connection, ms; default 5000 (then the call rejects). */
  connectTimeoutMs?: number;
  /**
   * Longest wait for the answer to one statement, ms; default 30 000. Then the call rejects and its
   * connection is dropped: a database host that vanished (failover, partition) sends no reset, and without
   * it a call would wait until the kernel gives up on the connection (many minutes), holding a pooled
   * connection all along. Schema migrations at open have none (migration 4 rewrites every usage row).
   */
  queryTimeoutMs?: number;
  logger: Logger;
}

/** Default {@link PostgresAuditStoreOptions.queryTimeoutMs}. */
export const DEFAULT_QUERY_TIMEOUT_MS = 30_000;

/**
 * The audit store on Postgres, for deployments with more than one control plane or more volume than a
 * local file should hold. Creates or migrates its tables at open (under an advisory lock, so replicas may
 * start at once); each batch is two multi-row `INSERT … ON CONFLICT DO NOTHING` statements (one per table).
 *
 * @throws when the database cannot be reached or migrated at open.
 */
export async function openPostgresAuditStore(
  options: PostgresAuditStoreOptions,
): Promise<AuditStore & AdminChangeLog> {
  const connection = {
    connectionString: options.connectionString,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    application_name: 'api-router-control-plane',
    // TCP keepalive from 10 s of silence (the OS default waits 2 h): a connection to a vanished host is found
    // broken and dropped even when no statement is waiting on it (migrations, a transaction between statements).
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  };
  // An idle pooled connection that breaks (database restart) emits here; unhandled it would crash the
  // process. The pool drops that connection and the next query opens a new one, so logging is enough.
  const logIdleFailure = (error: Error): void =>
    options.logger.warn({ err: error }, 'audit store: idle Postgres connection failed');
  const migrations = new pg.Pool({ ...connection, max: 1 });
  migrations.on('error', logIdleFailure);
  try {
    await migratePostgresAuditSchema(migrations);
  } finally {
    await migrations.end();
  }
  const pool = new pg.Pool({
    ...connection,
    max: options.maxConnections ?? 4,
    query_timeout: options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS,
  });
  pool.on('error', logIdleFailure);
  return createStore(pool);
}

/**
 * Brings the schema to `throughVersion` (default: the newest), in one transaction. Exported for tests, which
 * make the schema of an older control plane with it.
 */
export async function migratePostgresAuditSchema(
  pool: pg.Pool,
  throughVersion = MIGRATIONS.length,
): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_ID]);
    await client.query('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL PRIMARY KEY)');
    const result = await client.query<{ version: number | null }>(
      'SELECT MAX(version) AS version FROM schema_version',
    );
    const current = result.rows[0]?.version ?? 0;
    if (current > MIGRATIONS.length) {
      throw new Error(
        `audit store schema version ${current} is newer than this build knows (${MIGRATIONS.length})`,
      );
    }
    for (let version = current + 1; version <= Math.min(throughVersion, MIGRATIONS.length); version += 1) {
      await client.query(MIGRATIONS[version - 1]!);
      await client.query('INSERT INTO schema_version (version) VALUES ($1)', [version]);
    }
    await client.query('COMMIT');
  } catch (error: unknown) {
    // The original error is what matters; a failed ROLLBACK (connection gone) adds nothing to it.
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

function createStore(pool: pg.Pool): AuditStore & AdminChangeLog {
  let closing: Promise<void> | undefined;
  return {
    ...createPostgresAdminChangeLog(pool, (client, events, receivedAtMs) =>
      insertEvents(
        client,
        events.map((event) => toAuditEventRow(event)),
        receivedAtMs,
      ),
    ),
    ingest: (records, receivedAtMs) => ingest(pool, records, receivedAtMs),

    async eventsForRequest(requestId) {
      const result = await pool.query<{ record: Buffer }>(
        'SELECT record FROM audit_events WHERE request_id = $1 ORDER BY at_ms, event_id LIMIT $2',
        [requestId, MAX_EVENTS_PER_REQUEST],
      );
      return result.rows.map((row) => fromBinary(AuditEventSchema, row.record));
    },

    async usageForRequest(requestId) {
      const result = await pool.query<{ record_id: string; record: Buffer }>(
        `SELECT record_id, record FROM usage_records WHERE request_id = $1
         ORDER BY started_at_ms, record_id LIMIT $2`,
        [requestId, MAX_USAGE_RECORDS_PER_REQUEST],
      );
      return result.rows.map((row) => fromUsageRow(row.record_id, row.record));
    },

    async list(filter, page) {
      const query = buildAuditListQuery(filter, page, (index) => `$${index}`);
      // at_ms is BIGINT, which pg returns as a string.
      const result = await pool.query<{ event_id: string; at_ms: string; record: Buffer }>(
        query.sql,
        query.parameters,
      );
      const rows = result.rows.slice(0, page.limit);
      const last = rows.at(-1);
      return {
        events: rows.map((row) => fromBinary(AuditEventSchema, row.record)),
        next:
          result.rows.length > page.limit && last
            ? { atMs: Number(last.at_ms), eventId: last.event_id }
            : undefined,
      };
    },

    async prune(beforeMs, limit) {
      const usage = await pool.query(
        `DELETE FROM usage_records WHERE record_id IN
           (SELECT record_id FROM usage_records WHERE started_at_ms < $1 LIMIT $2)`,
        [beforeMs, limit],
      );
      const audit = await pool.query(
        `DELETE FROM audit_events WHERE event_id IN
           (SELECT event_id FROM audit_events WHERE at_ms < $1 AND kind <> $2 LIMIT $3)`,
        [beforeMs, AuditEventKind.ADMIN_CHANGE, limit],
      );
      return { usage: usage.rowCount ?? 0, audit: audit.rowCount ?? 0 };
    },

    close: () => (closing ??= pool.end()),
  };
}

/**
 * One statement per table, rows passed as arrays and expanded with unnest (a fixed statement text
 * whatever the batch size). Not one transaction: each statement is atomic and idempotent, so a failure
 * between them only means the retried batch finds the first table's rows as duplicates.
 */
async function ingest(
  pool: pg.Pool,
  records: readonly StorableRecord[],
  receivedAtMs: number,
): Promise<IngestOutcome> {
  const events = records.flatMap((record) =>
    record.type === 'audit' ? [toAuditEventRow(record.event, record.encoded)] : [],
  );
  const usages = records.flatMap((record) =>
    record.type === 'usage' ? [toUsageRow(record.usage, record.encoded)] : [],
  );
  const storedAudit = events.length === 0 ? 0 : await insertEvents(pool, events, receivedAtMs);
  const storedUsage = usages.length === 0 ? 0 : await insertUsages(pool, usages, receivedAtMs);
  return { storedAudit, storedUsage, duplicates: records.length - storedAudit - storedUsage };
}

/** Inserts the rows that are not stored yet (on the pool, or in a client's transaction); resolves with how many were. */
async function insertEvents(
  pool: pg.Pool | pg.ClientBase,
  events: readonly AuditEventRow[],
  receivedAtMs: number,
): Promise<number> {
  const result = await pool.query(
    `INSERT INTO audit_events (event_id, request_id, tenant_id, kind, at_ms, reason_code, data_plane_id,
         received_at_ms, record)
       SELECT event_id, request_id, tenant_id, kind, at_ms, reason_code, data_plane_id, $1, record
       FROM unnest($2::text[], $3::text[], $4::text[], $5::int[], $6::bigint[], $7::text[], $8::text[],
         $9::bytea[]) AS t(event_id, request_id, tenant_id, kind, at_ms, reason_code, data_plane_id, record)
       ON CONFLICT (event_id) DO NOTHING`,
    [
      receivedAtMs,
      events.map((row) => row.eventId),
      events.map((row) => row.requestId),
      events.map((row) => row.tenantId),
      events.map((row) => row.kind),
      events.map((row) => row.atMs),
      events.map((row) => row.reasonCode),
      events.map((row) => row.dataPlaneId),
      events.map((row) => toBuffer(row.record)),
    ],
  );
  return result.rowCount ?? 0;
}

/** Inserts the rows that are not stored yet; resolves with how many were. */
async function insertUsages(
  pool: pg.Pool,
  usages: readonly UsageRow[],
  receivedAtMs: number,
): Promise<number> {
  const result = await pool.query(
    `INSERT INTO usage_records (record_id, request_id, tenant_id, started_at_ms, status_code, data_plane_id,
         received_at_ms, record)
       SELECT record_id, request_id, tenant_id, started_at_ms, status_code, data_plane_id, $1, record
       FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::int[], $7::text[], $8::bytea[])
         AS t(record_id, request_id, tenant_id, started_at_ms, status_code, data_plane_id, record)
       ON CONFLICT (record_id) DO NOTHING`,
    [
      receivedAtMs,
      usages.map((row) => row.recordId),
      usages.map((row) => row.requestId),
      usages.map((row) => row.tenantId),
      usages.map((row) => row.startedAtMs),
      usages.map((row) => row.statusCode),
      usages.map((row) => row.dataPlaneId),
      usages.map((row) => toBuffer(row.record)),
    ],
  );
  return result.rowCount ?? 0;
}

/** pg renders Buffers (not every Uint8Array) inside array parameters as bytea literals. */
function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
