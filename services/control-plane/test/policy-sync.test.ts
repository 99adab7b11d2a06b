import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { AdminService } from '@api-router/contracts';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { VIEWER_TOKEN, routerYaml } from './config-yaml.js';
import { GrpcPolicyClient } from './grpc-policy-client.js';
import { startTestControlPlane, type TestControlPlane } from './start-test-control-plane.js';

describe('policy sync over gRPC with the file source', () => {
  let running: TestControlPlane | undefined;
  let client: GrpcPolicyClient | undefined;
  afterEach(async () => {
    client?.close();
    await running?.[Symbol.asyncDispose]();
  });

  it('streams the snapshot, a newer one after an edit, and keeps it when an edit is invalid', async () => {
    running = await startTestControlPlane();
    client = new GrpcPolicyClient(running.controlPlane.grpcUrl);
    client.watch({ dataPlane: { id: 'dp-test', hostname: 'test' } });

    const first = (await client.next()).snapshot!;
    expect(first.version).toBeGreaterThan(0n);
    expect(first.routes.map((route) => route.model)).toEqual(['demo-chat']);
    expect(first.sourceRevision).toMatch(/^file:[0-9a-f]{12}$/);

    await running.writeRouter(routerYaml({ weight: 5 }));
    const second = (await client.next()).snapshot!;
    expect(second.version).toBeGreaterThan(first.version);
    expect(second.routes[0]?.targets[0]?.weight).toBe(5);

    await running.writeRouter(routerYaml({ weight: 9, extra: 'surprise: true\n' }));
    const admin = createClient(
      AdminService,
      createConnectTransport({ baseUrl: running.controlPlane.httpUrl, httpVersion: '1.1' }),
    );
    const headers = { authorization: `Bearer ${VIEWER_TOKEN}` };
    const status = await vi.waitFor(
      async () => {
        const response = await admin.getConfigStatus({}, { headers });
        if (response.lastError === undefined) throw new Error('no config error reported yet');
        return response;
      },
      { timeout: 10_000, interval: 50 },
    );
    expect(status.publishedVersion).toBe(second.version);
    expect(status.lastError).toMatchObject({ source: running.routerPath, path: 'surprise' });
    expect(status.lastError?.message).toContain('unknown field');
    expect(status.lastError?.line).toBeGreaterThan(0);
    const effective = await admin.getEffectivePolicy({}, { headers });
    expect(effective.snapshot?.version).toBe(second.version);
  });

  it('sends an empty response instead of the version the data plane already runs', async () => {
    running = await startTestControlPlane();
    client = new GrpcPolicyClient(running.controlPlane.grpcUrl);
    client.watch({ dataPlane: { id: 'dp-a' } });
    const current = (await client.next()).snapshot!;
    client.close();

    client = new GrpcPolicyClient(running.controlPlane.grpcUrl);
    client.watch({ dataPlane: { id: 'dp-a' }, activeVersion: current.version });
    expect((await client.next()).snapshot).toBeUndefined();
    await running.writeRouter(routerYaml({ weight: 3 }));
    expect((await client.next()).snapshot?.version).toBeGreaterThan(current.version);
  });

  it('ends open streams with UNAVAILABLE at shutdown and restarts from the persisted snapshot', async () => {
    running = await startTestControlPlane();
    client = new GrpcPolicyClient(running.controlPlane.grpcUrl);
    client.watch({ dataPlane: { id: 'dp-a' } });
    const before = (await client.next()).snapshot!;
    await running.controlPlane[Symbol.asyncDispose]();
    expect((await client.ended)?.code).toBe(14);
    client.close();

    // Same state dir, config now missing: the persisted snapshot is published at once.
    const { rm } = await import('node:fs/promises');
    await rm(running.policiesPath);
    const restarted = await startTestControlPlane({
      stateDir: running.stateDir,
      configSource: { kind: 'file', routerPath: running.routerPath, policiesPath: running.policiesPath },
    });
    try {
      client = new GrpcPolicyClient(restarted.controlPlane.grpcUrl);
      client.watch({ dataPlane: { id: 'dp-a' } });
      expect((await client.next()).snapshot?.version).toBe(before.version);
    } finally {
      client.close();
      await restarted[Symbol.asyncDispose]();
    }
  });
});
