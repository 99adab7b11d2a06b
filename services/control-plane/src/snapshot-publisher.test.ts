import { createLogger } from '@api-router/observability';
import type { ConfigDocuments } from '@api-router/policy';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigSourceError } from './config-source.js';
import { createControlPlaneMetrics } from './control-plane-metrics.js';
import { SnapshotPublisher } from './snapshot-publisher.js';
import type { PersistedState } from './snapshot-state-store.js';

const ROUTER = `backends:
  - id: mock-a
    baseUrl: http://127.0.0.1:9101/v1
    provider: openai-compatible
routes:
  - id: demo-chat
    model: demo-chat
    targets:
      - backend: mock-a
        weight: WEIGHT
admin:
  tokens:
    - id: ops
      sha256: ${'a'.repeat(64)}
      role: viewer
`;

function documents(weight = 1, extra = ''): ConfigDocuments {
  return {
    router: { source: '/etc/router.yaml', text: ROUTER.replace('WEIGHT', String(weight)) + extra },
    policies: { source: '/etc/policies.yaml', text: 'tenants: []\n' },
  };
}

function setup(options: { maxSnapshotBytes?: number } = {}) {
  let nowMs = 1_000;
  const saved: PersistedState[] = [];
  const registry = new Registry();
  const metrics = createControlPlaneMetrics({
    registry,
    countDataPlanes: () => ({ connected: 0, disconnected: 0 }),
  });
  const publisher = new SnapshotPublisher({
    clock: { now: () => nowMs },
    logger: createLogger({ service: 'test', level: 'silent' }),
    metrics,
    store: { save: (state) => saved.push(state) },
    ...options,
  });
  const reloads = async (outcome: string): Promise<number> =>
    (await metrics.configReloads.get()).values.find((value) => value.labels.outcome === outcome)?.value ?? 0;
  return { publisher, saved, reloads, setNow: (ms: number) => (nowMs = ms) };
}

describe('SnapshotPublisher', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('versions snapshots as max(previous + 1, now in ms)', () => {
    const { publisher, setNow } = setup();
    expect(publisher.accept(documents(1), 'file:a')).toBe('applied');
    expect(publisher.current()?.version).toBe(1_000n);
    expect(publisher.accept(documents(2), 'file:b')).toBe('applied');
    expect(publisher.current()?.version).toBe(1_001n);
    setNow(5_000);
    expect(publisher.accept(documents(3), 'file:c')).toBe('applied');
    expect(publisher.current()?.version).toBe(5_000n);
    expect(publisher.current()?.sourceRevision).toBe('file:c');
  });

  it('refuses a config that compiles to a snapshot larger than data planes accept, keeping the last good one', () => {
    const { publisher } = setup({ maxSnapshotBytes: 4096 });
    expect(publisher.accept(documents(1), 'file:a')).toBe('applied');
    const tenants = Array.from({ length: 400 }, (_, index) => `  - id: tenant-${index}\n`).join('');
    const large = {
      ...documents(1),
      policies: { source: '/etc/policies.yaml', text: `tenants:\n${tenants}` },
    };
    expect(publisher.accept(large, 'file:b')).toBe('invalid');
    expect(publisher.current()?.version).toBe(1_000n);
    expect(publisher.status().lastError).toMatchObject({ source: '/etc/policies.yaml', path: '', line: 0 });
    expect(publisher.status().lastError?.message).toMatch(/compiles to \d+ bytes, more than the 4096/);
  });

  it('does not re-version identical content, even from another revision, and counts it "unchanged"', async () => {
    const { publisher, saved, reloads, setNow } = setup();
    publisher.accept(documents(1), 'file:a');
    setNow(9_000);
    expect(publisher.accept(documents(1, '# only a comment\n'), 'file:b')).toBe('unchanged');
    expect(publisher.current()?.version).toBe(1_000n);
    expect(publisher.status().sourceRevision).toBe('file:b');
    expect(saved).toHaveLength(1);
    expect(await reloads('applied')).toBe(1);
    expect(await reloads('unchanged')).toBe(1);
  });

  it('keeps publishing the last good snapshot when a config is invalid, and reports where and why', async () => {
    const { publisher, reloads, setNow } = setup();
    publisher.accept(documents(1), 'file:a');
    const good = publisher.current();
    setNow(2_000);
    expect(publisher.accept(documents(2, 'bogus: true\n'), 'file:b')).toBe('invalid');
    expect(publisher.current()).toBe(good);
    const status = publisher.status();
    expect(status.publishedVersion).toBe(1_000n);
    expect(status.sourceRevision).toBe('file:a');
    expect(status.lastError).toMatchObject({
      source: '/etc/router.yaml',
      path: 'bogus',
      message: expect.stringContaining('bogus'),
    });
    expect(status.lastError?.line).toBeGreaterThan(0);
    expect(status.lastError?.at).toEqual(new Date(2_000));
    expect(await reloads('invalid')).toBe(1);

    publisher.accept(documents(3), 'file:c');
    expect(publisher.status().lastError).toBeUndefined();
  });

  it('records config source failures without dropping the snapshot', () => {
    const { publisher } = setup();
    publisher.accept(documents(1), 'file:a');
    publisher.reportSourceError(
      new ConfigSourceError('missing', '/etc/policies.yaml', 'config file is missing: /etc/policies.yaml'),
    );
    expect(publisher.current()?.version).toBe(1_000n);
    expect(publisher.status().lastError).toMatchObject({ source: '/etc/policies.yaml', path: '', line: 0 });
  });

  it('gives a slow watcher the newest snapshot, never a queue', async () => {
    const { publisher } = setup();
    const abort = new AbortController();
    const watch = publisher.watch(abort.signal);
    const first = watch.next();
    publisher.accept(documents(1), 'file:a');
    expect((await first).value?.version).toBe(1_000n);
    publisher.accept(documents(2), 'file:b');
    publisher.accept(documents(3), 'file:c');
    publisher.accept(documents(4), 'file:d');
    expect((await watch.next()).value?.version).toBe(1_003n);
    const pending = watch.next();
    abort.abort();
    expect((await pending).done).toBe(true);
  });

  it('yields a heartbeat (undefined) after idleMs without a newer snapshot', async () => {
    vi.useFakeTimers();
    const { publisher } = setup();
    publisher.accept(documents(1), 'file:a');
    const watch = publisher.watch(new AbortController().signal, 1_000);
    expect((await watch.next()).value?.version).toBe(1_000n);
    const next = watch.next();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await next).toEqual({ done: false, value: undefined });
    publisher.close();
    expect((await watch.next()).done).toBe(true);
  });

  it('starts from a restored snapshot and keeps versions increasing after it', () => {
    const first = setup();
    first.setNow(50_000);
    first.publisher.accept(documents(1), 'file:a');
    const { publisher } = setup();
    publisher.restore(first.saved[0]!);
    expect(publisher.current()?.version).toBe(50_000n);
    expect(publisher.adminTokens().map((token) => token.id)).toEqual(['ops']);
    expect(publisher.accept(documents(1), 'file:a')).toBe('unchanged');
    expect(publisher.accept(documents(2), 'file:b')).toBe('applied');
    expect(publisher.current()?.version).toBe(50_001n);
  });

  it('persists admin token changes even when the snapshot is unchanged', () => {
    const { publisher, saved } = setup();
    publisher.accept(documents(1), 'file:a');
    const rotated = documents(1);
    rotated.router.text = rotated.router.text.replace('a'.repeat(64), 'b'.repeat(64));
    expect(publisher.accept(rotated, 'file:b')).toBe('unchanged');
    expect(saved).toHaveLength(2);
    expect(publisher.adminTokens()[0]?.sha256).toBe('b'.repeat(64));
  });
});
