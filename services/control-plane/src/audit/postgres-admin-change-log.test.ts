import type pg from 'pg';
import { create } from '@bufbuild/protobuf';
import { AuditEventSchema } from '@api-router/contracts';
import { describe, expect, it } from 'vitest';
import { createPostgresAdminChangeLog } from './postgres-admin-change-log.js';

// A statement that failed by its query timeout leaves a connection that answers nothing (a vanished
// host): a ROLLBACK on it would wait out a second timeout before the call could fail. The connection is
// dropped instead, which rolls the transaction back on the server.
describe('the Postgres admin change log', () => {
  it('fails a change whose statement failed without sending anything more on its connection', async () => {
    const sent: string[] = [];
    const released: (boolean | undefined)[] = [];
    const client = {
      query(text: string) {
        sent.push(text.trim().split(/\s+/)[0]!);
        if (text === 'BEGIN' || text === 'ROLLBACK') return Promise.resolve({ rows: [], rowCount: 0 });
        return Promise.reject(new Error('Query read timeout'));
      },
      release(destroy?: boolean) {
        released.push(destroy);
      },
    };
    const pool = { connect: () => Promise.resolve(client) } as unknown as pg.Pool;
    const log = createPostgresAdminChangeLog(pool, () => Promise.resolve(1));
    const intent = create(AuditEventSchema, { eventId: 'e1' });
    await expect(log.recordIntent('change-1', intent, 1)).rejects.toThrow('Query read timeout');
    expect(sent).toEqual(['BEGIN', 'INSERT']);
    expect(released).toEqual([true]);
  });
});
