import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { describeAuditStoreContract } from './audit-store-contract.test-support.js';
import { migrateSqliteAuditSchema, openSqliteAuditStore } from './sqlite-audit-store.js';

describeAuditStoreContract('SQLite', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'audit-sqlite-'));
  const path = join(directory, 'state', 'audit.sqlite');
  return {
    open: () => openSqliteAuditStore({ path }),
    async atSchemaVersion(version, statements) {
      await mkdir(dirname(path), { recursive: true });
      const db = new Database(path);
      try {
        migrateSqliteAuditSchema(db, version);
        for (const { sql, parameters } of statements) db.prepare(sql).run(...parameters);
      } finally {
        db.close();
      }
    },
    [Symbol.asyncDispose]: () => rm(directory, { recursive: true, force: true }),
  };
});

describe('SQLite audit store', () => {
  it('runs in WAL mode and records its schema version', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'audit-sqlite-'));
    const path = join(directory, 'audit.sqlite');
    try {
      const store = await openSqliteAuditStore({ path });
      await store.close();
      await store.close();
      const db = new Database(path, { readonly: true });
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.prepare('SELECT version FROM schema_version').all()).toEqual([
        { version: 1 },
        { version: 2 },
        { version: 3 },
        { version: 4 },
      ]);
      expect(
        db
          .prepare(
            `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'usage_records'
               AND name NOT LIKE 'sqlite_%' ORDER BY name`,
          )
          .all(),
      ).toEqual([{ name: 'usage_records_request' }, { name: 'usage_records_started' }]);
      db.close();
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('refuses a file written by a newer schema, and a file that is not a database', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'audit-sqlite-'));
    try {
      const newer = join(directory, 'newer.sqlite');
      const db = new Database(newer);
      db.exec(
        'CREATE TABLE schema_version (version INTEGER NOT NULL PRIMARY KEY); INSERT INTO schema_version VALUES (99)',
      );
      db.close();
      await expect(openSqliteAuditStore({ path: newer })).rejects.toThrow('schema version 99 is newer');

      const garbage = join(directory, 'garbage.sqlite');
      await writeFile(garbage, 'this is not a database, just some text long enough to have a header');
      await expect(openSqliteAuditStore({ path: garbage })).rejects.toThrow();
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('rejects calls after close instead of throwing synchronously', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'audit-sqlite-'));
    try {
      const store = await openSqliteAuditStore({ path: join(directory, 'audit.sqlite') });
      await store.close();
      await expect(store.eventsForRequest('req-1')).rejects.toThrow();
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});
