import { create } from '@bufbuild/protobuf';
import { createClient, createRouterTransport } from '@connectrpc/connect';
import { AdminService, PolicySnapshotSchema } from '@api-router/contracts';
import { createLogger } from '@api-router/observability';
import { describe, expect, it } from 'vitest';
import { createAdminService, type AdminServiceDeps } from './admin-service.js';

const KEY_HASH = new Uint8Array(32).fill(7);

function adminWith(snapshot = publishedSnapshot()) {
  const deps = {
    publisher: { current: () => snapshot, status: () => ({ publishedVersion: 0n, sourceRevision: '' }) },
    registry: { list: () => [] },
    auditStore: {},
    budgets: {},
    logger: createLogger({ service: 'test', level: 'silent' }),
  } as unknown as AdminServiceDeps;
  const transport = createRouterTransport((router) => router.service(AdminService, createAdminService(deps)));
  return createClient(AdminService, transport);
}

function publishedSnapshot() {
  return create(PolicySnapshotSchema, {
    version: 42n,
    contentHash: 'abc',
    apiKeys: [
      { publicId: 'rk_a', secretSha256: KEY_HASH, tenantId: 'acme', signingSecretRefs: ['env:SIGNING_A'] },
      { publicId: 'rk_b', secretSha256: KEY_HASH, tenantId: 'acme' },
    ],
  });
}

describe('AdminService GetEffectivePolicy', () => {
  it('answers the published snapshot without the API keys’ secret hashes, and leaves the published one intact', async () => {
    const snapshot = publishedSnapshot();
    const { snapshot: answered } = await adminWith(snapshot).getEffectivePolicy({});
    expect(answered?.version).toBe(42n);
    expect(answered?.apiKeys.map((key) => key.publicId)).toEqual(['rk_a', 'rk_b']);
    for (const key of answered?.apiKeys ?? []) expect(key.secretSha256).toHaveLength(0);
    // Names of secrets are not secrets: an operator needs them to see which secret a key signs with.
    expect(answered?.apiKeys[0]?.signingSecretRefs).toEqual(['env:SIGNING_A']);
    // What data planes are sent is not touched.
    for (const key of snapshot.apiKeys) expect(key.secretSha256).toEqual(KEY_HASH);
  });
});
