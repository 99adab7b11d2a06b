import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PolicyApplyOutcome } from '@api-router/contracts';
import { waitFor } from '@api-router/testing';
import { createTestSnapshot } from './support/policy-snapshot-fixture.js';
import {
  createTempDir,
  metricValue,
  runDataPlane,
  type RunningDataPlane,
} from './support/data-plane-harness.js';
import { FakePolicyServer } from './support/fake-policy-server.js';

// Real sockets end to end: a ConnectRPC policy server (the control plane's stack) on 127.0.0.1:0 and the
// data plane started in-process with its real grpc-js client, disk cache and HTTP server.

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function server(
  port?: number,
  initial?: Parameters<typeof FakePolicyServer.start>[1],
): Promise<FakePolicyServer> {
  const started = await FakePolicyServer.start(port, initial);
  let closed = false;
  const close = started.close.bind(started);
  started.close = async () => {
    if (closed) return;
    closed = true;
    await close();
  };
  cleanups.push(() => started.close());
  return started;
}

async function dataPlane(options: Parameters<typeof runDataPlane>[0]): Promise<RunningDataPlane> {
  const running = await runDataPlane(options);
  cleanups.push(() => running.stop());
  return running;
}

async function tempDir(): Promise<string> {
  const dir = await createTempDir('dp-it-');
  cleanups.push(dir.remove);
  return dir.path;
}

function readyOn(running: RunningDataPlane, version: string, source = 'control-plane') {
  return waitFor(`readyz 200 on version ${version} (${source})`, async () => {
    const { status, detail } = await running.readiness();
    return status === 200 && detail.policy?.version === version && detail.policy.source === source
      ? detail
      : undefined;
  });
}

describe('data plane ⇄ policy server', () => {
  it('becomes ready, applies a newer snapshot, rejects an older one and reports both', async () => {
    const policyServer = await server(0, createTestSnapshot({ version: 100n }));
    const running = await dataPlane({ controlPlaneAddress: policyServer.address, cacheDir: await tempDir() });

    const first = await readyOn(running, '100');
    expect(first.controlPlane).toMatchObject({ state: 'ready', connected: true });
    expect(policyServer.watchRequests[0]).toMatchObject({ dataPlane: { id: 'dp-test' }, activeVersion: 0n });

    policyServer.publish(createTestSnapshot({ version: 200n, sourceRevision: 'second' }));
    await readyOn(running, '200');

    policyServer.publish(createTestSnapshot({ version: 150n, sourceRevision: 'older' }));
    const rejection = await waitFor('a rejected report for 150', () =>
      policyServer.reports.find((report) => report.version === 150n),
    );
    expect(rejection).toMatchObject({ outcome: PolicyApplyOutcome.REJECTED, activeVersion: 200n });
    expect(rejection.reason).toContain('not greater than the active version 200');
    expect((await running.readiness()).detail.policy?.version).toBe('200');

    expect(
      policyServer.reports
        .filter((report) => report.outcome === PolicyApplyOutcome.APPLIED)
        .map((r) => r.version),
    ).toEqual([100n, 200n]);
    const metrics = await running.metricsText();
    expect(metricValue(metrics, 'router_policy_updates_total', { outcome: 'applied' })).toBe(2);
    expect(metricValue(metrics, 'router_policy_updates_total', { outcome: 'rejected' })).toBe(1);
    expect(metricValue(metrics, 'router_policy_version')).toBe(200);
    expect(metricValue(metrics, 'router_control_plane_connected')).toBe(1);
    expect(metricValue(metrics, 'router_control_plane_state', { state: 'ready' })).toBe(1);
    expect(running.logs.withMessage('policy applied').map((line) => line.version)).toEqual(['100', '200']);
    expect(running.logs.withMessage('policy rejected')[0]).toMatchObject({ version: '150' });
  });

  it('rejects a snapshot whose credentialRef does not resolve on this data plane, naming the backend', async () => {
    const policyServer = await server(
      0,
      createTestSnapshot({ version: 1n, credentialRef: 'env:MOCK_A_KEY' }),
    );
    const running = await dataPlane({
      controlPlaneAddress: policyServer.address,
      cacheDir: await tempDir(),
      environment: { MOCK_A_KEY: 'present' },
    });
    await readyOn(running, '1');

    policyServer.publish(
      createTestSnapshot({ version: 2n, backendId: 'mock-z', credentialRef: 'env:MOCK_Z_KEY' }),
    );

    const report = await waitFor('a report for version 2', () =>
      policyServer.reports.find((r) => r.version === 2n),
    );
    expect(report.outcome).toBe(PolicyApplyOutcome.REJECTED);
    expect(report.reason).toContain('backend "mock-z"');
    expect(report.activeVersion).toBe(1n);
  });

  it('keeps serving when the control plane goes away and reconnects when it comes back on the same port', async () => {
    const first = await server(0, createTestSnapshot({ version: 100n }));
    const port = first.port;
    const running = await dataPlane({ controlPlaneAddress: first.address, cacheDir: await tempDir() });
    await readyOn(running, '100');

    await first.close();

    const away = await waitFor('readyz showing the control plane disconnected', async () => {
      const { status, detail } = await running.readiness();
      return status === 200 && !detail.controlPlane.connected ? detail : undefined;
    });
    expect(away.policy?.version).toBe('100');
    expect(['backoff', 'connecting']).toContain(away.controlPlane.state);
    expect(metricValue(await running.metricsText(), 'router_control_plane_connected')).toBe(0);

    const second = await server(port, createTestSnapshot({ version: 300n, sourceRevision: 'after-restart' }));
    const back = await readyOn(running, '300');
    expect(back.controlPlane.connected).toBe(true);
    expect(second.watchRequests[0]?.activeVersion).toBe(100n);
    expect(metricValue(await running.metricsText(), 'router_control_plane_connected')).toBe(1);
  });

  it('restarts from the disk cache while the control plane is down', async () => {
    const cacheDir = await tempDir();
    const policyServer = await server(0, createTestSnapshot({ version: 100n }));
    const address = policyServer.address;
    const firstRun = await dataPlane({ controlPlaneAddress: address, cacheDir });
    await readyOn(firstRun, '100');
    await firstRun.stop();
    await policyServer.close();

    const secondRun = await dataPlane({ controlPlaneAddress: address, cacheDir });

    const detail = await readyOn(secondRun, '100', 'cache');
    expect(detail.controlPlane.connected).toBe(false);
    const metrics = await secondRun.metricsText();
    expect(metricValue(metrics, 'router_policy_cache_load_total', { outcome: 'loaded' })).toBe(1);
    expect(metricValue(metrics, 'router_policy_version')).toBe(100);
  });

  it('survives a corrupt cache: logs it clearly, sets it aside, is not ready until the control plane comes', async () => {
    const cacheDir = await tempDir();
    const cacheFile = join(cacheDir, 'policy-snapshot.bin');
    await writeFile(cacheFile, 'RPSC\u0000\u0001 this is not what a snapshot cache file looks like at all');
    const reserved = await server(0);
    const port = reserved.port;
    await reserved.close();

    const running = await dataPlane({ controlPlaneAddress: `127.0.0.1:${port}`, cacheDir });

    const notReady = await running.readiness();
    expect(notReady.status).toBe(503);
    expect(notReady.detail.policy).toBeNull();
    const inference = await fetch(`${running.dataPlane.url}/v1/chat/completions`, {
      method: 'POST',
      body: '{}',
    });
    expect(inference.status).toBe(503);
    expect(((await inference.json()) as { error: { code: string } }).error.code).toBe('not_ready');
    const errorLine = running.logs
      .lines()
      .find((line) => line.level === 50 && String(line.msg).includes(cacheFile));
    expect(errorLine).toMatchObject({ file: cacheFile });
    expect((await readdir(cacheDir)).some((name) => name.startsWith('policy-snapshot.bin.corrupt-'))).toBe(
      true,
    );
    expect(
      metricValue(await running.metricsText(), 'router_policy_cache_load_total', { outcome: 'corrupt' }),
    ).toBe(1);

    await server(port, createTestSnapshot({ version: 5n }));
    await readyOn(running, '5');
    // The good snapshot replaced the bad file for the next restart.
    await waitFor('the new cache file', async () =>
      (await readdir(cacheDir)).includes('policy-snapshot.bin') ? true : undefined,
    );
  });
});
