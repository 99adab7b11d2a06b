import { readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isPidAlive } from '@api-router/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  adminCall,
  createPlaneWorkspace,
  removePlaneWorkspace,
  eventually,
  metricValue,
  readiness,
  scrape,
  startControlPlaneProcess,
  startDataPlaneProcess,
  type PlaneWorkspace,
  type RunningControlPlane,
  type RunningDataPlane,
} from './support/planes.js';

// Issue 2's acceptance, end to end with real processes: the control plane and data plane run as separate
// Node processes talking over a real gRPC stream, with config files on disk and a snapshot cache on disk.
// The cases run in order and share the processes; each leaves the system in a good state for the next.

interface DataPlaneRow {
  identity?: { id?: string };
  connected?: boolean;
  appliedVersion?: string;
  rejectedVersion?: string;
  rejectReason?: string;
}

// A route with a misspelt field ("wieght"): the config schema rejects unknown fields.
const BROKEN_ROUTE = '\n  - id: broken\n    model: broken\n    wieght: 3\n    targets: []';

let workspace: PlaneWorkspace;
let controlPlane: RunningControlPlane | undefined;
let dataPlane: RunningDataPlane | undefined;

async function publishedVersion(): Promise<string> {
  const status = await adminCall<{ publishedVersion?: string }>(controlPlane!.httpUrl, 'GetConfigStatus');
  return status.body.publishedVersion ?? '0';
}

async function dataPlaneVersion(): Promise<string | undefined> {
  const { status, detail } = await readiness(dataPlane!.url);
  return status === 200 ? detail.policy?.version : undefined;
}

function edit(file: string, change: (text: string) => string): void {
  writeFileSync(file, change(readFileSync(file, 'utf8')));
}

beforeAll(async () => {
  workspace = await createPlaneWorkspace();
  controlPlane = await startControlPlaneProcess(workspace);
  dataPlane = await startDataPlaneProcess(workspace, { DP_ID: 'dp-e2e-1' });
});

afterAll(async () => {
  await dataPlane?.process.stop();
  await controlPlane?.process.stop();
  if (workspace !== undefined) await removePlaneWorkspace(workspace);
});

describe('control plane ⇄ data plane policy sync', () => {
  it('gets the data plane ready, exposes /metrics on both planes, and lists the data plane with its version', async () => {
    const version = await eventually(dataPlaneVersion, 30_000, 'data plane ready');
    expect(version).toBe(await publishedVersion());

    expect(await scrape(dataPlane!.url)).toContain('router_policy_version');
    expect(await scrape(controlPlane!.httpUrl)).toContain('router_cp_published_version');

    const row = await eventually(async () => {
      const listed = await adminCall<{ dataPlanes?: DataPlaneRow[] }>(
        controlPlane!.httpUrl,
        'ListDataPlanes',
      );
      return listed.body.dataPlanes?.find(
        (plane) => plane.identity?.id === 'dp-e2e-1' && plane.appliedVersion === version,
      );
    });
    expect(row.connected).toBe(true);
  });

  it('applies a changed policy file without a restart', async () => {
    const before = (await dataPlaneVersion())!;
    const pid = dataPlane!.process.pid;
    edit(workspace.policiesConfig, (text) =>
      text.replace('tenants:', 'tenants:\n  - id: e2e-added\n    displayName: Added by e2e'),
    );
    const after = await eventually(async () => {
      const version = await dataPlaneVersion();
      return version !== undefined && BigInt(version) > BigInt(before) ? version : undefined;
    });
    expect(after).toBe(await publishedVersion());
    expect(dataPlane!.process.pid).toBe(pid);
  });

  it('keeps publishing the last good snapshot when the config is invalid, and says where and why', async () => {
    const good = await publishedVersion();
    edit(workspace.routerConfig, (text) => text.replace('routes:', `routes:${BROKEN_ROUTE}`));
    const status = await eventually(async () => {
      const response = await adminCall<{ lastError?: { source?: string; path?: string; message?: string } }>(
        controlPlane!.httpUrl,
        'GetConfigStatus',
      );
      return response.body.lastError?.message ? response.body : undefined;
    });
    expect(status.lastError?.source).toBe(workspace.routerConfig);
    expect(`${status.lastError?.path} ${status.lastError?.message}`).toMatch(/wieght/);
    expect(await publishedVersion()).toBe(good);
    expect(await dataPlaneVersion()).toBe(good);
    const metrics = await scrape(controlPlane!.httpUrl);
    expect(metricValue(metrics, 'router_cp_config_reloads_total{outcome="invalid"}')).toBeGreaterThanOrEqual(
      1,
    );

    // Restore a valid file: the error clears and a new version is published.
    edit(workspace.routerConfig, (text) => text.replace(BROKEN_ROUTE, ''));
    await eventually(async () => {
      const response = await adminCall<{ lastError?: unknown }>(controlPlane!.httpUrl, 'GetConfigStatus');
      return response.body.lastError === undefined ? true : undefined;
    });
  });

  it('makes a snapshot the data plane rejects visible through the admin API and counters', async () => {
    const good = (await dataPlaneVersion())!;
    // A credential reference this data plane cannot resolve: valid config, rejected by the data plane.
    edit(workspace.routerConfig, (text) =>
      text.replace(/(baseUrl: [^\n]+9101[^\n]*)/, '$1\n    credentialRef: env:E2E_MISSING_SECRET'),
    );
    const rejected = await eventually(async () => {
      const listed = await adminCall<{ dataPlanes?: DataPlaneRow[] }>(
        controlPlane!.httpUrl,
        'ListDataPlanes',
      );
      const row = listed.body.dataPlanes?.find((plane) => plane.identity?.id === 'dp-e2e-1');
      return row?.rejectedVersion && row.rejectedVersion !== '0' ? row : undefined;
    });
    expect(rejected.rejectReason).toMatch(/E2E_MISSING_SECRET/);
    expect(rejected.appliedVersion).toBe(good);
    expect(await dataPlaneVersion()).toBe(good);
    expect(
      metricValue(await scrape(dataPlane!.url), 'router_policy_updates_total{outcome="rejected"}'),
    ).toBeGreaterThanOrEqual(1);
    expect(
      metricValue(await scrape(controlPlane!.httpUrl), 'router_cp_snapshot_rejections_total'),
    ).toBeGreaterThanOrEqual(1);

    edit(workspace.routerConfig, (text) => text.replace('\n    credentialRef: env:E2E_MISSING_SECRET', ''));
    await eventually(async () => {
      const version = await dataPlaneVersion();
      return version !== undefined && BigInt(version) > BigInt(good) ? version : undefined;
    });
  });

  it('keeps serving on its snapshot when the control plane dies, and reports the disconnection', async () => {
    const version = (await dataPlaneVersion())!;
    await controlPlane!.process.stop({ signal: 'SIGKILL' });
    const detail = await eventually(async () => {
      const { status, detail } = await readiness(dataPlane!.url);
      return status === 200 && !detail.controlPlane.connected ? detail : undefined;
    });
    expect(detail.policy?.version).toBe(version);
    expect(metricValue(await scrape(dataPlane!.url), 'router_control_plane_connected')).toBe(0);
  });

  it('restarts from its disk cache while the control plane is still down', async () => {
    const version = (await dataPlaneVersion())!;
    await dataPlane!.process.stop();
    dataPlane = await startDataPlaneProcess(workspace, { DP_ID: 'dp-e2e-1' });
    const detail = await eventually(async () => {
      const { status, detail } = await readiness(dataPlane!.url);
      return status === 200 ? detail : undefined;
    });
    expect(detail.policy).toMatchObject({ version, source: 'cache' });
    expect(detail.controlPlane.connected).toBe(false);
  });

  it('reports a corrupt cache clearly, does not crash, and recovers when the control plane returns', async () => {
    await dataPlane!.process.stop();
    const cacheFiles = readdirSync(workspace.dpCacheDir).filter((name) => name.endsWith('.bin'));
    expect(cacheFiles.length).toBeGreaterThan(0);
    for (const name of cacheFiles) writeFileSync(join(workspace.dpCacheDir, name), 'this is not a snapshot');

    dataPlane = await startDataPlaneProcess(workspace, { DP_ID: 'dp-e2e-1' });
    const complaint = await dataPlane.process.waitForLine(
      (line) => /corrupt|checksum|invalid/i.test(line) && line.includes('policy-snapshot'),
    );
    expect(complaint).toContain(workspace.dpCacheDir);
    const { status } = await readiness(dataPlane.url);
    expect(status).toBe(503);
    expect(await isPidAlive(dataPlane.process.pid)).toBe(true);

    controlPlane = await startControlPlaneProcess(workspace);
    const version = await eventually(
      dataPlaneVersion,
      30_000,
      'data plane ready after control plane restart',
    );
    expect(version).toBe(await publishedVersion());
  });
});
