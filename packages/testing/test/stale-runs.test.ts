import { mkdtemp, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isPidAlive, repoRoot, spawnProcess, startRedis, type ServiceHandle } from '../src/index.js';
import { writeServicesState } from '../src/local-services/services-state.js';
import { reapStaleRuns, runDirName } from '../src/local-services/stale-runs.js';

describe('reapStaleRuns', () => {
  let parentDir: string | undefined;
  let redis: ServiceHandle | undefined;

  afterAll(async () => {
    // Safety net when an assertion failed before the reaper stopped it.
    await redis?.stop();
    if (parentDir !== undefined) await rm(parentDir, { recursive: true, force: true });
  });

  it('stops the services of a run whose owner died, and leaves live owners alone', async () => {
    parentDir = await mkdtemp(join(repoRoot(), '.tmp', 'stale-runs-'));
    const owner = await spawnProcess({ command: process.execPath, args: ['-e', ''] });
    await owner.exited;
    const staleDir = join(parentDir, runDirName(owner.pid, 1));
    redis = await startRedis({ runDir: staleDir });
    await writeServicesState(staleDir, {
      env: { REDIS_URL: redis.url, DATABASE_URL: 'x', ETCD_ENDPOINTS: 'x', KAFKA_BROKERS: 'x' },
      pids: [{ name: 'redis', pid: redis.pid }],
    });
    const liveDir = join(parentDir, runDirName(process.pid, 2));
    await writeServicesState(liveDir, {
      env: { REDIS_URL: 'x', DATABASE_URL: 'x', ETCD_ENDPOINTS: 'x', KAFKA_BROKERS: 'x' },
      pids: [],
    });

    expect(await reapStaleRuns(parentDir)).toEqual([runDirName(owner.pid, 1)]);
    expect(await isPidAlive(redis.pid)).toBe(false);
    await expect(stat(staleDir)).rejects.toThrow();
    expect((await stat(liveDir)).isDirectory()).toBe(true);
  });
});
