import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { PolicySnapshot } from '@api-router/contracts';
import { createMetricsRegistry, type Registry } from '@api-router/observability';
import type { RuntimePolicy } from '@api-router/policy';
import { captureLogs } from '../../test/support/captured-logs.js';
import { ManualTime } from '../../test/support/manual-time.js';
import { createTestSnapshot } from '../../test/support/policy-snapshot-fixture.js';
import { createPolicyMetrics, type PolicyMetrics } from '../metrics/policy-metrics.js';
import { createCredentialRefChecker, type CredentialRefChecker } from './credential-ref-checker.js';
import {
  CREDENTIAL_RETRY_INITIAL_MS,
  CREDENTIAL_RETRY_MAX_MS,
  PolicyHolder,
  type PolicyStatusReport,
} from './policy-holder.js';

interface Harness {
  holder: PolicyHolder;
  reports: PolicyStatusReport[];
  metrics: PolicyMetrics;
  registry: Registry;
  logs: ReturnType<typeof captureLogs>;
  time: ManualTime;
  /** Control-plane snapshots handed to onApplied (the disk cache in the service). */
  persisted: PolicySnapshot[];
}

function createHarness(
  credentialRefs: CredentialRefChecker = createCredentialRefChecker({ environment: new Map() }),
): Harness {
  const registry = createMetricsRegistry({ processMetrics: false });
  const metrics = createPolicyMetrics(registry);
  const reports: PolicyStatusReport[] = [];
  const logs = captureLogs();
  const time = new ManualTime();
  const persisted: PolicySnapshot[] = [];
  const holder = new PolicyHolder({
    logger: logs.logger,
    clock: time,
    timers: time,
    metrics,
    credentialRefs,
    reporter: { report: (report) => reports.push(report) },
    onApplied: (snapshot) => {
      persisted.push(snapshot);
      return Promise.resolve();
    },
  });
  return { holder, reports, metrics, registry, logs, time, persisted };
}

async function updates(metrics: PolicyMetrics, outcome: 'applied' | 'rejected'): Promise<number> {
  const values = (await metrics.updatesTotal.get()).values;
  return values.find((value) => value.labels.outcome === outcome)?.value ?? 0;
}

describe('PolicyHolder', () => {
  it('applies a valid snapshot, counts it, reports it and sets the version gauge', async () => {
    const { holder, reports, metrics, logs } = createHarness();
    expect(holder.current()).toBeUndefined();

    const result = await holder.apply(createTestSnapshot({ version: 5n }), 'control-plane');

    expect(result).toEqual({ outcome: 'applied', version: 5n });
    expect(holder.current()?.policy.version).toBe(5n);
    expect(holder.current()?.source).toBe('control-plane');
    expect(holder.activeVersion()).toBe(5n);
    expect(reports).toEqual([{ version: 5n, outcome: 'applied', reason: '', activeVersion: 5n }]);
    expect(await updates(metrics, 'applied')).toBe(1);
    expect((await metrics.policyVersion.get()).values[0]?.value).toBe(5);
    expect(logs.withMessage('policy applied')[0]).toMatchObject({ version: '5' });
  });

  it.each([
    ['older', 4n],
    ['equal', 5n],
  ])('rejects an %s version and keeps the last good policy', async (_label, version) => {
    const { holder, reports, metrics } = createHarness();
    await holder.apply(createTestSnapshot({ version: 5n }), 'control-plane');
    const before = holder.current();

    // Other content (a source revision alone is not content: it is left out of the content hash).
    const result = await holder.apply(createTestSnapshot({ version, backendId: 'mock-b' }), 'control-plane');

    expect(result.outcome).toBe('rejected');
    expect(result).toMatchObject({ reason: `version ${version} is not greater than the active version 5` });
    expect(holder.current()).toBe(before);
    expect(reports[1]).toMatchObject({ version, outcome: 'rejected', activeVersion: 5n });
    expect(await updates(metrics, 'rejected')).toBe(1);
  });

  it("replaces a policy read from the disk cache with the control plane's, even at a lower version", async () => {
    const { holder, reports } = createHarness();
    // A cache written under another control plane (or one whose state dir and clock were lost): its version
    // is above anything this control plane publishes for now.
    await holder.apply(createTestSnapshot({ version: 9_000n, backendId: 'elsewhere' }), 'cache');

    const result = await holder.apply(createTestSnapshot({ version: 5_000n }), 'control-plane');

    expect(result).toEqual({ outcome: 'applied', version: 5_000n });
    expect(holder.current()).toMatchObject({ source: 'control-plane', policy: { version: 5_000n } });
    expect(reports).toEqual([{ version: 5_000n, outcome: 'applied', reason: '', activeVersion: 5_000n }]);
    // From then on, only the control plane's newer versions.
    const older = await holder.apply(
      createTestSnapshot({ version: 4_000n, backendId: 'b' }),
      'control-plane',
    );
    expect(older.outcome).toBe('rejected');
  });

  it('reports the active snapshot sent again (a reconnect during its apply) as applied, swapping nothing', async () => {
    const { holder, reports, metrics, logs } = createHarness();
    await holder.apply(createTestSnapshot({ version: 5n }), 'control-plane');
    const before = holder.current();

    const result = await holder.apply(createTestSnapshot({ version: 5n }), 'control-plane');

    expect(result).toEqual({ outcome: 'applied', version: 5n });
    expect(holder.current()).toBe(before);
    expect(reports[1]).toEqual({ version: 5n, outcome: 'applied', reason: '', activeVersion: 5n });
    expect(await updates(metrics, 'rejected')).toBe(0);
    expect(logs.withMessage('policy already active')).toHaveLength(1);
  });

  it('rejects an invalid snapshot (content hash mismatch) and keeps the last good policy', async () => {
    const { holder, reports, logs } = createHarness();
    await holder.apply(createTestSnapshot({ version: 5n }), 'control-plane');
    const before = holder.current();
    const tampered = createTestSnapshot({ version: 6n });
    tampered.routes[0]!.maxAttempts = 5;

    const result = await holder.apply(tampered, 'control-plane');

    expect(result).toMatchObject({ outcome: 'rejected', version: 6n });
    expect(result.outcome === 'rejected' && result.reason).toMatch(/content_hash .* does not match/);
    expect(holder.current()).toBe(before);
    expect(reports[1]).toMatchObject({ outcome: 'rejected', activeVersion: 5n });
    expect(logs.withMessage('policy rejected')[0]).toMatchObject({ version: '6', activeVersion: '5' });
  });

  it('rejects a snapshot whose backend credentialRef names an unset env var, naming the backend', async () => {
    const { holder, reports } = createHarness(
      createCredentialRefChecker({ environment: new Map([['OTHER', 'x']]) }),
    );

    const result = await holder.apply(
      createTestSnapshot({ version: 7n, backendId: 'mock-b', credentialRef: 'env:MOCK_B_KEY' }),
      'control-plane',
    );

    expect(result.outcome).toBe('rejected');
    expect(result.outcome === 'rejected' && result.reason).toContain('backend "mock-b"');
    expect(result.outcome === 'rejected' && result.reason).toContain('MOCK_B_KEY');
    expect(holder.current()).toBeUndefined();
    expect(reports[0]).toMatchObject({ version: 7n, outcome: 'rejected', activeVersion: 0n });
  });

  it('accepts env: refs present in the environment snapshot', async () => {
    const { holder } = createHarness(
      createCredentialRefChecker({ environment: new Map([['MOCK_A_KEY', 'secret']]) }),
    );
    const result = await holder.apply(
      createTestSnapshot({ version: 1n, credentialRef: 'env:MOCK_A_KEY' }),
      'cache',
    );
    expect(result.outcome).toBe('applied');
  });

  describe('file: credential refs', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'dp-holder-'));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('accepts an existing readable file and rejects a missing one', async () => {
      const present = join(dir, 'key');
      await writeFile(present, 'secret');
      const { holder } = createHarness(createCredentialRefChecker({ environment: new Map() }));

      const ok = await holder.apply(
        createTestSnapshot({ version: 1n, credentialRef: `file:${present}` }),
        'control-plane',
      );
      const missing = await holder.apply(
        createTestSnapshot({ version: 2n, credentialRef: `file:${join(dir, 'nope')}` }),
        'control-plane',
      );

      expect(ok.outcome).toBe('applied');
      expect(missing.outcome).toBe('rejected');
      expect(missing.outcome === 'rejected' && missing.reason).toContain('backend "mock-a"');
      expect(holder.activeVersion()).toBe(1n);
    });

    it('rejects a directory and a relative path', async () => {
      const { holder } = createHarness(createCredentialRefChecker({ environment: new Map() }));
      const directory = await holder.apply(
        createTestSnapshot({ version: 1n, credentialRef: `file:${dir}` }),
        'cache',
      );
      const relative = await holder.apply(
        createTestSnapshot({ version: 2n, credentialRef: 'file:key.txt' }),
        'cache',
      );
      expect(directory.outcome).toBe('rejected');
      expect(relative.outcome).toBe('rejected');
    });
  });

  it('does not report snapshots read from the disk cache', async () => {
    const { holder, reports } = createHarness();
    await holder.apply(createTestSnapshot({ version: 3n }), 'cache');
    expect(holder.current()?.source).toBe('cache');
    expect(reports).toEqual([]);
  });

  it('swaps atomically: readers see the old policy until the new one is fully checked', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<undefined>((resolve) => {
      release = () => resolve(undefined);
    });
    // Version 1 passes at once; version 2's check waits until the test opens the gate.
    const gated: CredentialRefChecker = {
      check: (policy: RuntimePolicy) => (policy.version === 1n ? Promise.resolve(undefined) : gate),
    };
    const { holder } = createHarness(gated);
    await holder.apply(createTestSnapshot({ version: 1n }), 'control-plane');
    const old = holder.current()!;

    const pending = holder.apply(createTestSnapshot({ version: 2n }), 'control-plane');
    for (let tick = 0; tick < 10; tick += 1) await Promise.resolve();
    expect(holder.current()).toBe(old);

    release();
    await pending;
    expect(holder.current()?.policy.version).toBe(2n);
    // The replaced value was never touched: frozen, and still describing version 1.
    expect(Object.isFrozen(old)).toBe(true);
    expect(old.policy.version).toBe(1n);
  });

  it('handles concurrent applies one at a time in call order', async () => {
    const { holder } = createHarness();
    const [newer, older] = await Promise.all([
      holder.apply(createTestSnapshot({ version: 3n }), 'control-plane'),
      holder.apply(createTestSnapshot({ version: 2n }), 'control-plane'),
    ]);
    expect(newer.outcome).toBe('applied');
    expect(older.outcome).toBe('rejected');
    expect(holder.activeVersion()).toBe(3n);
  });

  describe('retry of a snapshot rejected for an unresolved credential reference', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'dp-retry-'));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    /** Waits (polling, no duration asserted) until the holder sent `count` reports. */
    async function reportsReach(reports: PolicyStatusReport[], count: number): Promise<void> {
      await vi.waitFor(() => expect(reports).toHaveLength(count));
    }

    it('applies it once the secret file is mounted, with no resend by the control plane', async () => {
      const secret = join(dir, 'mock-a.key');
      const { holder, reports, time, persisted } = createHarness(
        createCredentialRefChecker({ environment: new Map() }),
      );
      const snapshot = createTestSnapshot({ version: 7n, credentialRef: `file:${secret}` });

      await holder.apply(snapshot, 'control-plane');
      expect(reports[0]).toMatchObject({ version: 7n, outcome: 'rejected', activeVersion: 0n });

      // Still missing: rejected and reported again, as usual, then retried after a longer delay.
      time.advance(CREDENTIAL_RETRY_INITIAL_MS);
      await reportsReach(reports, 2);
      expect(reports[1]).toMatchObject({ version: 7n, outcome: 'rejected' });
      expect(time.pendingDelaysMs()).toEqual([CREDENTIAL_RETRY_INITIAL_MS * 2]);

      // The operator mounts the secret; the republished config is "unchanged", so nothing comes again.
      await writeFile(secret, 'token');
      time.advance(CREDENTIAL_RETRY_INITIAL_MS * 2);
      await reportsReach(reports, 3);

      expect(reports[2]).toEqual({ version: 7n, outcome: 'applied', reason: '', activeVersion: 7n });
      expect(holder.current()).toMatchObject({ source: 'control-plane', policy: { version: 7n } });
      expect(persisted).toEqual([snapshot]);
      expect(time.pendingDelaysMs()).toEqual([]);
    });

    it('doubles the delay up to its cap and keeps retrying', async () => {
      const { holder, reports, time } = createHarness(createCredentialRefChecker({ environment: new Map() }));
      await holder.apply(
        createTestSnapshot({ version: 7n, credentialRef: 'env:MOCK_A_KEY' }),
        'control-plane',
      );

      const delays: number[] = [];
      for (let attempt = 1; attempt <= 9; attempt += 1) {
        const [delay] = time.pendingDelaysMs();
        delays.push(delay!);
        time.advance(delay!);
        await reportsReach(reports, attempt + 1);
      }
      expect(delays.at(-1)).toBe(CREDENTIAL_RETRY_MAX_MS);
      expect(delays).toEqual(
        delays.map((_, index) => Math.min(CREDENTIAL_RETRY_MAX_MS, CREDENTIAL_RETRY_INITIAL_MS * 2 ** index)),
      );
    });

    it('stops once the control plane sends another snapshot, and on close', async () => {
      const { holder, reports, time } = createHarness(createCredentialRefChecker({ environment: new Map() }));
      await holder.apply(
        createTestSnapshot({ version: 7n, credentialRef: 'env:MOCK_A_KEY' }),
        'control-plane',
      );
      expect(time.pendingDelaysMs()).toHaveLength(1);

      await holder.apply(createTestSnapshot({ version: 8n }), 'control-plane');
      expect(time.pendingDelaysMs()).toEqual([]);

      await holder.apply(
        createTestSnapshot({ version: 9n, credentialRef: 'env:MOCK_A_KEY' }),
        'control-plane',
      );
      holder.close();
      expect(time.pendingDelaysMs()).toEqual([]);
      expect(reports.map((report) => report.outcome)).toEqual(['rejected', 'applied', 'rejected']);
    });

    it('does not retry other rejections, nor snapshots read from the disk cache', async () => {
      const { holder, time } = createHarness(createCredentialRefChecker({ environment: new Map() }));
      await holder.apply(createTestSnapshot({ version: 5n, credentialRef: 'env:MOCK_A_KEY' }), 'cache');
      await holder.apply(createTestSnapshot({ version: 6n }), 'control-plane');
      const tampered = createTestSnapshot({ version: 7n });
      tampered.routes[0]!.maxAttempts = 5;
      await holder.apply(tampered, 'control-plane');
      await holder.apply(createTestSnapshot({ version: 4n, backendId: 'b' }), 'control-plane');
      expect(time.pendingDelaysMs()).toEqual([]);
    });
  });
});
