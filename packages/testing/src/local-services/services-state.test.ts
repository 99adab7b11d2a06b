import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PIDS_FILE, readServicesState, writeServicesState } from './services-state.js';
import { isOutsideServiceDir, outsideServiceDir } from './service-dir.js';

describe('services state', () => {
  const made: string[] = [];
  afterEach(async () => {
    for (const dir of made.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  it('records each service with its working directory, spaces included, and reads older lines without one', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'services-state-'));
    made.push(stateDir);
    await writeServicesState(stateDir, {
      env: {
        REDIS_URL: 'redis://r',
        DATABASE_URL: 'postgres://p',
        ETCD_ENDPOINTS: 'http://e',
        KAFKA_BROKERS: 'k',
      },
      pids: [
        { name: 'redis', pid: 11, dir: '/a checkout/.tmp/services/redis' },
        { name: 'postgres', pid: 12, dir: '/tmp/api-router-postgres-x' },
      ],
    });
    expect((await readServicesState(stateDir)).pids).toEqual([
      { name: 'redis', pid: 11, dir: '/a checkout/.tmp/services/redis' },
      { name: 'postgres', pid: 12, dir: '/tmp/api-router-postgres-x' },
    ]);

    await writeFile(join(stateDir, PIDS_FILE), 'etcd 13\nnot-a-service 14 /x\nkafka x\n');
    expect((await readServicesState(stateDir)).pids).toEqual([{ name: 'etcd', pid: 13 }]);
  });

  it('takes as removable only the directories outsideServiceDir makes under the temp directory', async () => {
    const outside = await outsideServiceDir('postgres');
    made.push(outside);
    expect(isOutsideServiceDir(outside)).toBe(true);
    expect(isOutsideServiceDir(join(tmpdir(), 'something-else'))).toBe(false);
    expect(isOutsideServiceDir('/home/api-router-postgres-x')).toBe(false);
    expect(isOutsideServiceDir(join(outside, 'api-router-nested'))).toBe(false);
  });
});
