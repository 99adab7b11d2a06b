import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { toBinary } from '@bufbuild/protobuf';
import { PolicySnapshotSchema } from '@api-router/contracts';
import { createMetricsRegistry } from '@api-router/observability';
import { captureLogs } from '../../test/support/captured-logs.js';
import { ManualTime } from '../../test/support/manual-time.js';
import { createTestSnapshot } from '../../test/support/policy-snapshot-fixture.js';
import { createPolicyMetrics, type CacheLoadOutcome, type PolicyMetrics } from '../metrics/policy-metrics.js';
import { createCredentialRefChecker } from './credential-ref-checker.js';
import { PolicyHolder } from './policy-holder.js';
import { SNAPSHOT_FILE_NAME, SnapshotCache } from './snapshot-cache.js';
import { encodeSnapshotEnvelope } from './snapshot-envelope.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dp-cache-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function createHarness(cacheDir = dir) {
  const time = new ManualTime(1_750_000_000_000);
  const metrics = createPolicyMetrics(createMetricsRegistry({ processMetrics: false }));
  const logs = captureLogs();
  const cache = new SnapshotCache({ dir: cacheDir, logger: logs.logger, clock: time, metrics });
  const holder = new PolicyHolder({
    logger: logs.logger,
    clock: time,
    timers: time,
    metrics,
    credentialRefs: createCredentialRefChecker({ environment: new Map() }),
    reporter: { report: () => undefined },
  });
  const restore = () => cache.restore((snapshot) => holder.apply(snapshot, 'cache'));
  return { cache, holder, metrics, logs, restore, time };
}

async function cacheLoads(metrics: PolicyMetrics, outcome: CacheLoadOutcome): Promise<number> {
  const values = (await metrics.cacheLoadTotal.get()).values;
  return values.find((value) => value.labels.outcome === outcome)?.value ?? 0;
}

const filePath = () => join(dir, SNAPSHOT_FILE_NAME);

describe('SnapshotCache', () => {
  it('round-trips a snapshot through the disk, leaving no temp file', async () => {
    const writer = createHarness();
    await writer.cache.save(createTestSnapshot({ version: 42n }));
    expect(await readdir(dir)).toEqual([SNAPSHOT_FILE_NAME]);

    const reader = createHarness();
    const result = await reader.restore();

    expect(result).toEqual({ outcome: 'loaded', version: 42n });
    expect(reader.holder.current()?.policy.version).toBe(42n);
    expect(reader.holder.current()?.source).toBe('cache');
    expect(await cacheLoads(reader.metrics, 'loaded')).toBe(1);
  });

  it('keeps the latest of several saves', async () => {
    const writer = createHarness();
    void writer.cache.save(createTestSnapshot({ version: 1n }));
    void writer.cache.save(createTestSnapshot({ version: 2n }));
    await writer.cache.flush();
    const reader = createHarness();
    expect(await reader.restore()).toEqual({ outcome: 'loaded', version: 2n });
  });

  it('reports a missing file as "missing" (a normal first start)', async () => {
    const { restore, metrics, holder } = createHarness(join(dir, 'not-created-yet'));
    expect(await restore()).toEqual({ outcome: 'missing' });
    expect(holder.current()).toBeUndefined();
    expect(await cacheLoads(metrics, 'missing')).toBe(1);
  });

  it('sets a garbage file aside, counts it and logs an error naming the file', async () => {
    await writeFile(filePath(), 'definitely not a snapshot, just some bytes long enough for a header......');
    const { restore, metrics, logs, holder, time } = createHarness();

    const result = await restore();

    expect(result).toMatchObject({
      outcome: 'corrupt',
      reason: 'not a policy snapshot cache file (bad magic)',
    });
    expect(await readdir(dir)).toEqual([`${SNAPSHOT_FILE_NAME}.corrupt-${time.now()}`]);
    expect(holder.current()).toBeUndefined();
    expect(await cacheLoads(metrics, 'corrupt')).toBe(1);
    const [line] = logs.lines().filter((entry) => entry.level === 50);
    expect(line?.msg).toContain(filePath());
    expect(line).toMatchObject({ file: filePath(), reason: 'not a policy snapshot cache file (bad magic)' });

    // The next start finds no file rather than tripping over the same one again.
    expect(await createHarness().restore()).toEqual({ outcome: 'missing' });
  });

  it('detects a truncated file', async () => {
    await createHarness().cache.save(createTestSnapshot({ version: 9n }));
    const full = await readFile(filePath());
    await writeFile(filePath(), full.subarray(0, full.length - 10));

    const result = await createHarness().restore();

    expect(result.outcome).toBe('corrupt');
    expect(result.outcome === 'corrupt' && result.reason).toMatch(/truncated/);
  });

  it('detects a truncated header', async () => {
    await writeFile(filePath(), Buffer.from('RPSC'));
    const result = await createHarness().restore();
    expect(result.outcome === 'corrupt' && result.reason).toBe('truncated header (4 of 44 bytes)');
  });

  it('detects a wrong checksum', async () => {
    await createHarness().cache.save(createTestSnapshot({ version: 9n }));
    const bytes = await readFile(filePath());
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
    await writeFile(filePath(), bytes);

    const result = await createHarness().restore();

    expect(result.outcome === 'corrupt' && result.reason).toMatch(/^checksum mismatch/);
  });

  it('detects an unsupported format version', async () => {
    const bytes = encodeSnapshotEnvelope(toBinary(PolicySnapshotSchema, createTestSnapshot({ version: 1n })));
    bytes.writeUInt16BE(2, 4);
    await writeFile(filePath(), bytes);
    const result = await createHarness().restore();
    expect(result.outcome === 'corrupt' && result.reason).toBe('unsupported format version 2 (expected 1)');
  });

  it('sets aside a well-formed file whose snapshot the holder rejects', async () => {
    const snapshot = createTestSnapshot({ version: 3n });
    snapshot.contentHash = '0'.repeat(64);
    await writeFile(filePath(), encodeSnapshotEnvelope(toBinary(PolicySnapshotSchema, snapshot)));
    const { restore, metrics } = createHarness();

    const result = await restore();

    expect(result.outcome === 'corrupt' && result.reason).toMatch(/^snapshot rejected: content_hash/);
    expect(await cacheLoads(metrics, 'corrupt')).toBe(1);
  });

  it('sets aside a payload that is not a PolicySnapshot', async () => {
    await writeFile(filePath(), encodeSnapshotEnvelope(Buffer.from([0x0a, 0x05, 0x01])));
    const result = await createHarness().restore();
    expect(result.outcome === 'corrupt' && result.reason).toMatch(/^payload is not a PolicySnapshot/);
  });

  it('removes a temp file left by a crash mid-write', async () => {
    await writeFile(`${filePath()}.tmp`, 'half a write');
    expect(await createHarness().restore()).toEqual({ outcome: 'missing' });
    expect(await readdir(dir)).toEqual([]);
  });

  it('logs and survives a failed write (the cache directory is a file)', async () => {
    const blocker = join(dir, 'blocker');
    await writeFile(blocker, 'x');
    const { cache, logs } = createHarness(blocker);
    await expect(cache.save(createTestSnapshot({ version: 1n }))).resolves.toBeUndefined();
    expect(logs.withMessage('policy cache write failed')).toHaveLength(1);
  });
});
