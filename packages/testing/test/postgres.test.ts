import { chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { isPidAlive, startPostgres, testServices } from '../src/index.js';
import { stopRecordedServices, writeServicesState } from '../src/local-services/services-state.js';

describe('postgres (real server)', () => {
  const client = new pg.Client({ connectionString: testServices().DATABASE_URL });

  afterAll(async () => {
    await client.end();
  });

  it('answers a SELECT and round-trips a row through a temporary table', async () => {
    await client.connect();
    const one = await client.query<{ answer: number }>('SELECT 1 AS answer');
    expect(one.rows).toEqual([{ answer: 1 }]);

    await client.query('CREATE TEMP TABLE smoke (id int PRIMARY KEY, note text NOT NULL)');
    await client.query('INSERT INTO smoke (id, note) VALUES ($1, $2)', [7, 'hello postgres']);
    const rows = await client.query<{ note: string }>('SELECT note FROM smoke WHERE id = $1', [7]);
    expect(rows.rows).toEqual([{ note: 'hello postgres' }]);
  });
});

describe('startPostgres', () => {
  it('starts under a private (0700) parent directory, which the "postgres" user cannot enter as root, and cleans up', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'private-parent-'));
    await chmod(parent, 0o700);
    try {
      const handle = await startPostgres({ runDir: join(parent, 'run') });
      let dataDir: string | undefined;
      const client = new pg.Client({ connectionString: handle.url });
      try {
        await client.connect();
        dataDir = (await client.query<{ data_directory: string }>('SHOW data_directory')).rows[0]
          ?.data_directory;
      } finally {
        await client.end();
        await handle.stop();
      }
      expect(dataDir).toMatch(/\/data$/);
      // Stopped: a cluster kept outside the run directory is gone with it.
      if (!dataDir!.startsWith(parent)) await expect(stat(dataDir!)).rejects.toThrow(/ENOENT/);
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  }, 90_000);

  it('is stopped, and a cluster kept outside the run directory removed, through the recorded state (services.sh stop)', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'private-parent-'));
    await chmod(parent, 0o700);
    const runDir = join(parent, 'run');
    const handle = await startPostgres({ runDir });
    try {
      await writeServicesState(runDir, {
        env: { REDIS_URL: 'x', DATABASE_URL: handle.url, ETCD_ENDPOINTS: 'x', KAFKA_BROKERS: 'x' },
        pids: [{ name: 'postgres', pid: handle.pid, dir: handle.dir }],
      });
      expect(await stopRecordedServices(runDir)).toEqual(['postgres']);
      expect(await isPidAlive(handle.pid)).toBe(false);
      if (!handle.dir.startsWith(parent)) await expect(stat(handle.dir)).rejects.toThrow(/ENOENT/);
    } finally {
      if (await isPidAlive(handle.pid)) await handle.stop();
      await rm(parent, { recursive: true, force: true });
    }
  }, 90_000);
});
