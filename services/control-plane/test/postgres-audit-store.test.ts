import pg from 'pg';
import { createLogger } from '@api-router/observability';
import { testServices } from '@api-router/testing';
import { describe, expect, it } from 'vitest';
import { auditEvent, describeAuditStoreContract } from '../src/audit/audit-store-contract.test-support.js';
import { openPostgresAuditStore } from '../src/audit/postgres-audit-store.js';
import { createDatabaseFixture } from './postgres-database-fixture.js';

const logger = createLogger({ service: 'audit-store-test', level: 'silent' });

describeAuditStoreContract('Postgres', createDatabaseFixture);

describe('Postgres audit store', () => {
  it('migrates once when several control planes open the same database at the same time', async () => {
    await using fixture = await createDatabaseFixture();
    const stores = await Promise.all([fixture.open(), fixture.open(), fixture.open()]);
    try {
      const client = new pg.Client({ connectionString: fixture.url });
      await client.connect();
      const versions = await client.query('SELECT version FROM schema_version');
      const indexes = await client.query(
        "SELECT indexname FROM pg_indexes WHERE tablename = 'usage_records' ORDER BY indexname",
      );
      await client.end();
      expect(versions.rows).toEqual([{ version: 1 }, { version: 2 }, { version: 3 }, { version: 4 }]);
      expect(indexes.rows.map((row: { indexname: string }) => row.indexname)).toEqual([
        'usage_records_pkey',
        'usage_records_request',
        'usage_records_started',
      ]);
      await stores[0].ingest([{ type: 'audit', event: auditEvent({}) }], 0);
      expect(await stores[2].eventsForRequest('req-1')).toHaveLength(1);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  });

  it('fails to open, naming the problem, when the database does not exist', async () => {
    const url = new URL(testServices().DATABASE_URL);
    url.pathname = '/no_such_database_for_audit';
    await expect(openPostgresAuditStore({ connectionString: url.toString(), logger })).rejects.toThrow(
      'no_such_database_for_audit',
    );
  });
});
