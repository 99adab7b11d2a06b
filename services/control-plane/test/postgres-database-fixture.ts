import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createLogger } from '@api-router/observability';
import { testServices } from '@api-router/testing';
import type { AuditStoreFixture } from '../src/audit/audit-store-contract.test-support.js';
import { migratePostgresAuditSchema, openPostgresAuditStore } from '../src/audit/postgres-audit-store.js';

const logger = createLogger({ service: 'audit-store-test', level: 'silent' });

/**
 * A fresh database on the test Postgres (`url`); `open` opens an audit store on it (each call its own pool,
 * as another control plane would). Dropped, with any open connections, on dispose.
 */
export async function createDatabaseFixture(): Promise<AuditStoreFixture & { url: string }> {
  const adminUrl = testServices().DATABASE_URL;
  const name = `audit_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    open: () => openPostgresAuditStore({ connectionString: url.toString(), logger }),
    async atSchemaVersion(version, statements) {
      const pool = new pg.Pool({ connectionString: url.toString(), max: 1 });
      try {
        await migratePostgresAuditSchema(pool, version);
        for (const { sql, parameters } of statements) {
          let index = 0;
          await pool.query(
            sql.replace(/\?/g, () => `$${String((index += 1))}`),
            [...parameters],
          );
        }
      } finally {
        await pool.end();
      }
    },
    async [Symbol.asyncDispose]() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
