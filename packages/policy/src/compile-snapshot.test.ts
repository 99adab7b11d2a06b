import { clone, toBinary } from '@bufbuild/protobuf';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { OutputLimitParam, PolicySnapshotSchema } from '@api-router/contracts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileSnapshot } from './compile-snapshot.js';
import { hashSecret } from './hash-secret.js';
import { parseConfig } from './parse-config.js';
import { parsedConfigArbitrary, reorderConfig } from './parsed-config.test-support.js';
import { computeSnapshotHash } from './snapshot-hash.js';

// Generous: the machine running the suite is shared and these properties compile dozens of snapshots.
const PROPERTY_TIMEOUT_MS = 60_000;

const OPTIONS = { version: 7n, sourceRevision: 'file:test', createdAt: new Date('2025-03-04T05:06:07.890Z') };

describe('compileSnapshot', () => {
  it(
    'gives the same bytes and content hash whatever the order of the config lists',
    () => {
      fc.assert(
        fc.property(parsedConfigArbitrary, fc.integer(), (config, seed) => {
          const original = compileSnapshot(config, OPTIONS);
          const reordered = compileSnapshot(reorderConfig(config, seed), OPTIONS);
          expect(reordered.contentHash).toBe(original.contentHash);
          expect(toBinary(PolicySnapshotSchema, reordered)).toEqual(toBinary(PolicySnapshotSchema, original));
        }),
        { numRuns: 100 },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    'gives the same content hash whatever the version and creation time',
    () => {
      fc.assert(
        fc.property(
          parsedConfigArbitrary,
          fc.bigInt({ min: 1n, max: 2n ** 64n - 1n }),
          fc.date(),
          (config, version, date) => {
            fc.pre(!Number.isNaN(date.getTime()));
            const first = compileSnapshot(config, OPTIONS);
            const second = compileSnapshot(config, { ...OPTIONS, version, createdAt: date });
            expect(second.contentHash).toBe(first.contentHash);
            expect(second.version).toBe(version);
          },
        ),
        { numRuns: 50 },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it('stores the options, hashes the content and converts keys and dates', () => {
    const secret = 'rk_acme0001.s3cret';
    const config = parseConfig({
      router: { source: 'router.yaml', text: 'backends: []\nroutes: []\n' },
      policies: {
        source: 'policies.yaml',
        text: [
          'tenants: [{ id: acme }]',
          'apiKeys:',
          '  - publicId: rk_acme0001',
          `    secretSha256: ${hashSecret(secret)}`,
          '    tenant: acme',
          '    allowedModels: [b, "*", a, b]',
          '    expiresAt: 2030-01-01T00:00:00+02:00',
        ].join('\n'),
      },
    });
    const snapshot = compileSnapshot(config, OPTIONS);
    expect(snapshot.version).toBe(7n);
    expect(snapshot.sourceRevision).toBe('file:test');
    expect(timestampDate(snapshot.createdAt!)).toEqual(OPTIONS.createdAt);
    expect(snapshot.contentHash).toMatch(/^[0-9a-f]{64}$/);
    expect(snapshot.contentHash).toBe(computeSnapshotHash(snapshot));
    const [key] = snapshot.apiKeys;
    expect(Buffer.from(key!.secretSha256).toString('hex')).toBe(hashSecret(secret));
    expect(key!.allowedModels).toEqual(['*', 'a', 'b']);
    expect(timestampDate(key!.expiresAt!).toISOString()).toBe('2029-12-31T22:00:00.000Z');
  });

  it("writes each backend's output limit param explicitly, max_tokens by default", () => {
    const config = parseConfig({
      router: {
        source: 'router.yaml',
        text: [
          'backends:',
          '  - { id: plain, baseUrl: "http://a:1/v1" }',
          '  - { id: reasoning, baseUrl: "https://o.example/v1", outputLimitParam: max_completion_tokens }',
        ].join('\n'),
      },
      policies: { source: 'policies.yaml', text: '' },
    });
    const params = compileSnapshot(config, OPTIONS).backends.map((backend) => [
      backend.id,
      backend.outputLimitParam,
    ]);
    expect(params).toEqual([
      ['plain', OutputLimitParam.MAX_TOKENS],
      ['reasoning', OutputLimitParam.MAX_COMPLETION_TOKENS],
    ]);
  });

  it('leaves admin tokens out of the snapshot', () => {
    const token = hashSecret('admin-token');
    const config = parseConfig({
      router: {
        source: 'router.yaml',
        text: `admin:\n  tokens: [{ id: ops, sha256: ${token}, role: admin }]\n`,
      },
      policies: { source: 'policies.yaml', text: '' },
    });
    const snapshot = compileSnapshot(config, OPTIONS);
    expect(Buffer.from(toBinary(PolicySnapshotSchema, snapshot)).toString('latin1')).not.toContain('ops');
  });
});

describe('computeSnapshotHash', () => {
  it(
    'ignores version, content hash, creation time and source revision, and does not mutate its input',
    () => {
      fc.assert(
        fc.property(parsedConfigArbitrary, (config) => {
          const snapshot = compileSnapshot(config, OPTIONS);
          const before = clone(PolicySnapshotSchema, snapshot);
          const changed = clone(PolicySnapshotSchema, snapshot);
          changed.version = 99n;
          changed.contentHash = 'different';
          changed.createdAt = undefined;
          changed.sourceRevision = 'etcd:/router@2';
          expect(computeSnapshotHash(changed)).toBe(computeSnapshotHash(snapshot));
          expect(snapshot).toEqual(before);
        }),
        { numRuns: 30 },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it('gives the same content hash whatever the source revision, which is not content', () => {
    fc.assert(
      fc.property(parsedConfigArbitrary, (config) => {
        const first = compileSnapshot(config, OPTIONS);
        const second = compileSnapshot(config, { ...OPTIONS, sourceRevision: 'etcd:/router@2' });
        expect(second.sourceRevision).toBe('etcd:/router@2');
        expect(second.contentHash).toBe(first.contentHash);
      }),
      { numRuns: 10 },
    );
  });

  it('changes with the content', () => {
    const snapshot = compileSnapshot(
      parseConfig({
        router: { source: 'router.yaml', text: '' },
        policies: { source: 'policies.yaml', text: 'tenants: [{ id: acme }]' },
      }),
      OPTIONS,
    );
    const changed = clone(PolicySnapshotSchema, snapshot);
    changed.tenants[0]!.disabled = true;
    expect(computeSnapshotHash(changed)).not.toBe(snapshot.contentHash);
  });
});
