import { join } from 'node:path';
import type { Logger } from 'pino';
import type { AdminChangeLog } from './admin-change-log.js';
import type { AuditStore } from './audit-store.js';
import { openPostgresAuditStore } from './postgres-audit-store.js';
import { openSqliteAuditStore } from './sqlite-audit-store.js';

export interface OpenAuditStoreOptions {
  /** Postgres URL (CP_DATABASE_URL); undefined selects the embedded SQLite file. */
  databaseUrl: string | undefined;
  /** CP_STATE_DIR: the SQLite file is `<stateDir>/audit.sqlite`. */
  stateDir: string;
  logger: Logger;
}

/** File name of the embedded audit store inside CP_STATE_DIR. */
export const SQLITE_AUDIT_FILE = 'audit.sqlite';

/**
 * Opens the configured audit store: Postgres when a database URL is set, else the SQLite file in the state
 * directory. Logs which one (never the URL, which may hold a password).
 *
 * @throws when the database cannot be opened or migrated: the control plane refuses to start without it.
 */
export async function openAuditStore(options: OpenAuditStoreOptions): Promise<AuditStore & AdminChangeLog> {
  if (options.databaseUrl !== undefined) {
    const store = await openPostgresAuditStore({
      connectionString: options.databaseUrl,
      logger: options.logger,
    });
    options.logger.info({ kind: 'postgres' }, 'audit store opened');
    return store;
  }
  const path = join(options.stateDir, SQLITE_AUDIT_FILE);
  const store = await openSqliteAuditStore({ path });
  options.logger.info({ kind: 'sqlite', path }, 'audit store opened');
  return store;
}
