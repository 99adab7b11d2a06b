import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { testServices } from '../src/index.js';

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
