import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isPidAlive, probeEtcd, repoRoot, startEtcd, type ServiceHandle } from '../src/index.js';

describe('startEtcd', () => {
  let runDir: string | undefined;
  let etcd: ServiceHandle | undefined;

  afterAll(async () => {
    // Normally already stopped by the test; this is the safety net when an assertion failed midway.
    await etcd?.stop();
    if (runDir !== undefined) await rm(runDir, { recursive: true, force: true });
  });

  it('starts an extra etcd that answers, and stop() leaves no process behind', async () => {
    runDir = await mkdtemp(join(repoRoot(), '.tmp', 'start-etcd-'));
    etcd = await startEtcd({ runDir });
    expect(etcd.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await isPidAlive(etcd.pid)).toBe(true);
    await probeEtcd(etcd.url);

    await etcd.stop();
    expect(await isPidAlive(etcd.pid)).toBe(false);
    await expect(probeEtcd(etcd.url)).rejects.toThrow();
  });
});
