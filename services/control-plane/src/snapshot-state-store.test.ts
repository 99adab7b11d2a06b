import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@api-router/observability';
import { compileSnapshot, parseConfig } from '@api-router/policy';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SnapshotStateStore } from './snapshot-state-store.js';

const logger = createLogger({ service: 'test', level: 'silent' });
const snapshot = compileSnapshot(
  parseConfig({
    router: { source: 'router.yaml', text: 'backends: []\nroutes: []\n' },
    policies: { source: 'policies.yaml', text: 'tenants:\n  - id: acme\n' },
  }),
  { version: 42n, sourceRevision: 'file:abc', createdAt: new Date(1_000) },
);
const adminTokens = [{ id: 'ops', sha256: 'c'.repeat(64), role: 'admin' as const }];

describe('SnapshotStateStore', () => {
  let directory: string;
  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'cp-state-'));
  });
  afterEach(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('returns nothing when no state was saved', async () => {
    expect(
      await new SnapshotStateStore({ directory: join(directory, 'absent'), logger }).load(),
    ).toBeUndefined();
  });

  it('round-trips the last saved state byte for byte', async () => {
    const store = new SnapshotStateStore({ directory: join(directory, 'nested'), logger });
    store.save({ snapshot: { ...snapshot, version: 41n }, adminTokens: [] });
    store.save({ snapshot, adminTokens });
    await store.flush();
    const loaded = await new SnapshotStateStore({ directory: join(directory, 'nested'), logger }).load();
    expect(loaded?.snapshot.version).toBe(42n);
    expect(loaded?.snapshot.contentHash).toBe(snapshot.contentHash);
    expect(loaded?.adminTokens).toEqual(adminTokens);
  });

  it('ignores a corrupt or tampered state file instead of failing', async () => {
    const store = new SnapshotStateStore({ directory, logger });
    await writeFile(store.path, '{not json');
    expect(await store.load()).toBeUndefined();

    store.save({ snapshot, adminTokens });
    await store.flush();
    const saved = JSON.parse(await readFile(store.path, 'utf8')) as { snapshot: string };
    const bytes = Buffer.from(saved.snapshot, 'base64');
    bytes[bytes.length - 1] = bytes.at(-1)! ^ 0x01;
    await writeFile(store.path, JSON.stringify({ ...saved, snapshot: bytes.toString('base64') }));
    expect(await store.load()).toBeUndefined();
  });
});
