import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { BackendProvider, PolicySnapshotSchema, type PolicySnapshot } from '@api-router/contracts';
import { computeSnapshotHash } from '@api-router/policy';

export interface TestSnapshotOptions {
  version: bigint;
  /** created_at in epoch ms; default 1_700_000_000_000. */
  createdAtMs?: number;
  /** credentialRef of the one backend; default "" (no credential). */
  credentialRef?: string;
  backendId?: string;
  /** Distinguishes contents (and content hashes) of otherwise equal snapshots. */
  sourceRevision?: string;
}

/** A small valid snapshot (one backend, one route, one tenant, one key) with a correct content hash. */
export function createTestSnapshot(options: TestSnapshotOptions): PolicySnapshot {
  const backendId = options.backendId ?? 'mock-a';
  const snapshot = create(PolicySnapshotSchema, {
    version: options.version,
    createdAt: timestampFromMs(options.createdAtMs ?? 1_700_000_000_000),
    sourceRevision: options.sourceRevision ?? 'test',
    settings: { maxBodyBytes: 1_048_576, defaultRequestTimeoutMs: 30_000 },
    backends: [
      {
        id: backendId,
        baseUrl: 'http://127.0.0.1:9101/v1',
        provider: BackendProvider.OPENAI_COMPATIBLE,
        enabled: true,
        connectTimeoutMs: 1000,
        firstByteTimeoutMs: 10_000,
        maxConnections: 64,
        credentialRef: options.credentialRef ?? '',
        healthPath: '/health',
      },
    ],
    routes: [{ id: 'demo-chat', model: 'demo-chat', targets: [{ backendId, weight: 1 }], maxAttempts: 2 }],
    tenants: [{ id: 'acme', displayName: 'Acme Inc.' }],
    apiKeys: [
      { publicId: 'rk_demo01', secretSha256: new Uint8Array(32), tenantId: 'acme', allowedModels: ['*'] },
    ],
  });
  snapshot.contentHash = computeSnapshotHash(snapshot);
  return snapshot;
}
