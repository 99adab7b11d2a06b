import { afterEach, describe, expect, it } from 'vitest';
import { create, toBinary } from '@bufbuild/protobuf';
import {
  PolicySnapshotSchema,
  WatchPolicyRequestSchema,
  type WatchPolicyResponse,
} from '@api-router/contracts';
import { computeSnapshotHash } from '@api-router/policy';
import { FakePolicyServer } from '../../test/support/fake-policy-server.js';
import { createTestSnapshot } from '../../test/support/policy-snapshot-fixture.js';
import { createGrpcPolicySyncTransport } from './grpc-policy-sync-transport.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('grpc policy sync transport', () => {
  it('receives a snapshot larger than grpc-js default 4 MiB message limit (tens of thousands of keys)', async () => {
    const base = createTestSnapshot({ version: 5n });
    const [key] = base.apiKeys;
    // 80 000 keys of one tenant: about 4.6 MiB on the wire, a policies.yaml a large deployment does write.
    const apiKeys = Array.from({ length: 80_000 }, (_, index) => ({
      ...key!,
      publicId: `rk_${String(index).padStart(8, '0')}`,
    }));
    const snapshot = create(PolicySnapshotSchema, { ...base, apiKeys });
    snapshot.contentHash = computeSnapshotHash(snapshot);
    expect(toBinary(PolicySnapshotSchema, snapshot).length).toBeGreaterThan(4 * 1024 * 1024);

    const server = await FakePolicyServer.start(0, snapshot);
    cleanups.push(() => server.close());
    const transport = createGrpcPolicySyncTransport({
      address: server.address,
      keepaliveTimeMs: 60_000,
      keepaliveTimeoutMs: 10_000,
      reconnectBackoffMs: { initial: 100, max: 1000 },
      reportTimeoutMs: 1000,
    });
    cleanups.push(() => transport.close());

    const outcome = await new Promise<WatchPolicyResponse | Error | undefined>((resolve) => {
      const call = transport.watchPolicy(create(WatchPolicyRequestSchema, { dataPlane: { id: 'dp' } }), {
        onHeaders: () => undefined,
        onMessage: (response) => {
          call.cancel();
          resolve(response);
        },
        onEnd: resolve,
      });
    });
    expect(outcome).not.toBeInstanceOf(Error);
    expect((outcome as WatchPolicyResponse).snapshot?.apiKeys).toHaveLength(80_000);
  }, 30_000);
});
