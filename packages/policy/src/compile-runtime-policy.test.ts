import { clone, create, toBinary } from '@bufbuild/protobuf';
import {
  ApiKeySchema,
  BackendProvider,
  BackendSchema,
  OutputLimitParam,
  PolicySnapshotSchema,
  RouteSchema,
  RouteTargetSchema,
  type PolicySnapshot,
} from '@api-router/contracts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileRuntimePolicy } from './compile-runtime-policy.js';
import { compileSnapshot } from './compile-snapshot.js';
import { parseConfig } from './parse-config.js';
import { parsedConfigArbitrary } from './parsed-config.test-support.js';
import { rejectionReason, resealedCopy } from './resealed-snapshot.test-support.js';

// Generous: the machine running the suite is shared and these properties compile dozens of snapshots.
const PROPERTY_TIMEOUT_MS = 60_000;

const OPTIONS = { version: 42n, sourceRevision: 'file:test', createdAt: new Date('2025-01-01T00:00:00Z') };

const ROUTER_YAML = `
backends:
  - id: mock-a
    baseUrl: http://127.0.0.1:9101/v1
  - id: mock-b
    baseUrl: http://127.0.0.1:9102/v1
routes:
  - id: demo-chat
    model: demo-chat
    targets:
      - { backend: mock-a, weight: 70 }
      - { backend: mock-b, weight: 30, upstreamModel: mock-model }
      - { backend: mock-b, weight: 0, priority: 1 }
`.replace('      - { backend: mock-b, weight: 0, priority: 1 }\n', '');
const POLICIES_YAML = `
tenants: [{ id: demo }]
apiKeys:
  - { publicId: rk_demo01, secretSha256: ${'ab'.repeat(32)}, tenant: demo, allowedModels: ["*"] }
`;

function validSnapshot(): PolicySnapshot {
  const config = parseConfig({
    router: { source: 'router.yaml', text: ROUTER_YAML },
    policies: { source: 'policies.yaml', text: POLICIES_YAML },
  });
  return compileSnapshot(config, OPTIONS);
}

function resealed(change: (snapshot: PolicySnapshot) => void): PolicySnapshot {
  return resealedCopy(validSnapshot(), change);
}

describe('compileRuntimePolicy', () => {
  it('builds the lookup maps of a valid snapshot', () => {
    const snapshot = validSnapshot();
    const policy = compileRuntimePolicy(snapshot);
    expect(policy.version).toBe(42n);
    expect(policy.contentHash).toBe(snapshot.contentHash);
    expect(policy.createdAt).toEqual(OPTIONS.createdAt);
    expect(policy.snapshot).toBe(snapshot);
    expect(policy.settings).toEqual({
      maxBodyBytes: 1_048_576,
      defaultRequestTimeoutMs: 30_000,
      defaultMaxOutputTokens: 1024,
      reservationTtlMs: 120_000,
    });
    expect([...policy.backendsById.keys()]).toEqual(['mock-a', 'mock-b']);
    expect(policy.tenantsById.get('demo')?.id).toBe('demo');
    expect(policy.apiKeysByPublicId.get('rk_demo01')?.tenantId).toBe('demo');
    const route = policy.routesByModel.get('demo-chat')!;
    expect(route.route.id).toBe('demo-chat');
    expect(route.targets.map((target) => [target.backend.id, target.weight, target.upstreamModel])).toEqual([
      ['mock-a', 70, 'demo-chat'],
      ['mock-b', 30, 'mock-model'],
    ]);
  });

  it('orders runtime targets by priority, keeping the snapshot order among equals', () => {
    const snapshot = resealed((s) => {
      s.routes[0]!.targets = [
        create(RouteTargetSchema, { backendId: 'mock-b', weight: 1, priority: 2 }),
        create(RouteTargetSchema, { backendId: 'mock-b', weight: 1, priority: 0 }),
        create(RouteTargetSchema, { backendId: 'mock-a', weight: 1, priority: 0 }),
      ];
    });
    const targets = compileRuntimePolicy(snapshot).routesByModel.get('demo-chat')!.targets;
    expect(targets.map((target) => `${target.backend.id}/${target.priority}`)).toEqual([
      'mock-b/0',
      'mock-a/0',
      'mock-b/2',
    ]);
  });

  it.each<[string, (snapshot: PolicySnapshot) => void, RegExp]>([
    ['version 0', (s) => (s.version = 0n), /^version must be greater than 0$/],
    ['missing settings', (s) => (s.settings = undefined), /^settings missing$/],
    ['zero body limit', (s) => (s.settings!.maxBodyBytes = 0), /max_body_bytes/],
    [
      'duplicate backend',
      (s) => s.backends.push(clone(BackendSchema, s.backends[0]!)),
      /duplicate backend id "mock-a"/,
    ],
    [
      'duplicate route id',
      (s) => s.routes.push(clone(RouteSchema, s.routes[0]!)),
      /duplicate route id "demo-chat"/,
    ],
    [
      'duplicate route model',
      (s) => s.routes.push(create(RouteSchema, { ...clone(RouteSchema, s.routes[0]!), id: 'other' })),
      /duplicate route model "demo-chat"/,
    ],
    ['duplicate tenant', (s) => s.tenants.push(s.tenants[0]!), /duplicate tenant id "demo"/],
    [
      'duplicate key',
      (s) => s.apiKeys.push(clone(ApiKeySchema, s.apiKeys[0]!)),
      /duplicate API key public_id "rk_demo01"/,
    ],
    ['empty id', (s) => (s.backends[0]!.id = ''), /empty backend id/],
    [
      'unknown backend',
      (s) => (s.routes[0]!.targets[0]!.backendId = 'nope'),
      /route demo-chat: target 0 names unknown backend "nope"/,
    ],
    ['unknown tenant', (s) => (s.apiKeys[0]!.tenantId = 'nope'), /API key rk_demo01: unknown tenant "nope"/],
    [
      'all weights zero',
      (s) => s.routes[0]!.targets.forEach((t) => (t.weight = 0)),
      /no target has a weight greater than 0/,
    ],
    ['no targets', (s) => (s.routes[0]!.targets = []), /no target has a weight greater than 0/],
    [
      'relative URL',
      (s) => (s.backends[0]!.baseUrl = '/v1'),
      /backend mock-a: base_url "\/v1" must be an absolute/,
    ],
    ['non-http URL', (s) => (s.backends[0]!.baseUrl = 'ftp://x/v1'), /must use http or https/],
    ['trailing slash', (s) => (s.backends[0]!.baseUrl = 'http://x/v1/'), /must not end with a slash/],
    [
      'unknown provider',
      (s) => (s.backends[0]!.provider = BackendProvider.UNSPECIFIED),
      /backend mock-a: unknown provider 0/,
    ],
    [
      'unknown output limit param',
      (s) => (s.backends[0]!.outputLimitParam = 3 as OutputLimitParam),
      /backend mock-a: unknown output_limit_param 3/,
    ],
    [
      'short key hash',
      (s) => (s.apiKeys[0]!.secretSha256 = new Uint8Array(31)),
      /secret_sha256 has 31 bytes, expected 32/,
    ],
    [
      'three signing secrets',
      (s) => (s.apiKeys[0]!.signingSecretRefs = ['env:A', 'env:B', 'env:C']),
      /signing_secret_refs, at most 2/,
    ],
    ['empty model', (s) => (s.routes[0]!.model = ''), /route demo-chat: model is empty/],
    ['zero attempts', (s) => (s.routes[0]!.maxAttempts = 0), /max_attempts must be at least 1/],
  ])('rejects %s', (_name, change, reason) => {
    expect(rejectionReason(resealed(change))).toMatch(reason);
  });

  it('rejects a content hash that does not match', () => {
    const snapshot = validSnapshot();
    snapshot.contentHash = '0'.repeat(64);
    expect(rejectionReason(snapshot)).toMatch(
      /^content_hash 0{64} does not match the content \([0-9a-f]{64}\)$/,
    );
  });

  it('accepts a snapshot whose source revision changed, as it is not part of the content', () => {
    const snapshot = clone(PolicySnapshotSchema, validSnapshot());
    snapshot.sourceRevision = 'etcd:/api-router/config/@99';
    expect(compileRuntimePolicy(snapshot).contentHash).toBe(validSnapshot().contentHash);
  });

  it('accepts a backend without an output limit param, as in a snapshot from before the field', () => {
    const snapshot = resealed((s) => (s.backends[0]!.outputLimitParam = OutputLimitParam.UNSPECIFIED));
    expect(compileRuntimePolicy(snapshot).backendsById.get('mock-a')?.outputLimitParam).toBe(
      OutputLimitParam.UNSPECIFIED,
    );
  });

  it(
    'rejects any snapshot whose content changed without its hash, and never mutates its input',
    () => {
      type Mutation = (snapshot: PolicySnapshot) => boolean;
      // Each mutation returns false when the snapshot has nothing it could change.
      const mutations: Mutation[] = [
        (s) => ((s.settings!.defaultRequestTimeoutMs += 1), true),
        (s) => ((s.settings!.maxBodyBytes += 1), true),
        (s) => s.backends.length > 0 && ((s.backends[0]!.enabled = !s.backends[0]!.enabled), true),
        (s) => s.backends.length > 0 && ((s.backends[0]!.baseUrl += '0'), true),
        (s) => s.routes.length > 0 && ((s.routes[0]!.targets[0]!.weight += 1), true),
        (s) => s.routes.length > 0 && (s.routes.pop(), true),
        (s) => s.tenants.length > 0 && ((s.tenants[0]!.displayName += '!'), true),
        (s) => s.apiKeys.length > 0 && ((s.apiKeys[0]!.secretSha256[0]! ^= 1), true),
        (s) => s.apiKeys.length > 0 && (s.apiKeys[0]!.allowedModels.push('extra'), true),
        (s) => s.prices.length > 0 && ((s.prices[0]!.outputMicrosPerMillionTokens += 1n), true),
        (s) => {
          const limits = s.tenants.find((tenant) => tenant.limits !== undefined)?.limits;
          return limits !== undefined && ((limits.maxConcurrent += 1), true);
        },
      ];
      fc.assert(
        fc.property(
          parsedConfigArbitrary,
          fc.integer({ min: 0, max: mutations.length - 1 }),
          (config, which) => {
            const snapshot = compileSnapshot(config, OPTIONS);
            expect(compileRuntimePolicy(snapshot).contentHash).toBe(snapshot.contentHash);
            fc.pre(mutations[which]!(snapshot));
            const bytes = toBinary(PolicySnapshotSchema, snapshot);
            expect(rejectionReason(snapshot)).toMatch(
              /^content_hash [0-9a-f]{64} does not match the content/,
            );
            expect(toBinary(PolicySnapshotSchema, snapshot)).toEqual(bytes);
          },
        ),
        { numRuns: 100 },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );
});
