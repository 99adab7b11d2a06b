import pg from 'pg';
import { createLogger } from '@api-router/observability';
import { testServices } from '@api-router/testing';
import { describe, expect, it } from 'vitest';
import { auditEvent, describeAuditStoreContract } from '../src/audit/audit-store-contract.test-support.js';
import { openPostgresAuditStore } from '../src/audit/postgres-audit-store.js';
import { createDatabaseFixture } from './postgres-database-fixture.js';
import { startPausableTcpProxy } from './pausable-tcp-proxy.js';

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

  // A database host that vanishes (failover, partition) sends no reset: without a timeout each call waits
  // for the kernel to give up on the connection (many minutes), and with the pool's four connections stuck
  // every ingest and lookup fails long after the database is back.
  it('fails a call instead of waiting for ever when Postgres stops answering, and stores the retry once it is back', async () => {
    await using fixture = await createDatabaseFixture();
    const database = new URL(fixture.url);
    const proxy = await startPausableTcpProxy({ host: database.hostname, port: Number(database.port) });
    const viaProxy = new URL(fixture.url);
    viaProxy.host = `127.0.0.1:${String(proxy.port)}`;
    const store = await openPostgresAuditStore({
      connectionString: viaProxy.toString(),
      logger,
      queryTimeoutMs: 500,
      connectTimeoutMs: 500,
    });
    try {
      await store.ingest([{ type: 'audit', event: auditEvent({ eventId: 'ev-1' }) }], 0);
      proxy.partition();
      const retried = [{ type: 'audit' as const, event: auditEvent({ eventId: 'ev-2' }) }];
      await expect(store.ingest(retried, 0)).rejects.toThrow();
      await expect(store.eventsForRequest('req-1')).rejects.toThrow();
      proxy.heal();
      expect(await store.ingest(retried, 0)).toEqual({ storedAudit: 1, storedUsage: 0, duplicates: 0 });
      expect((await store.eventsForRequest('req-1')).map((event) => event.eventId)).toEqual(['ev-1', 'ev-2']);
    } finally {
      await store.close();
      await proxy.close();
    }
  });
});
