import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Etcd3 } from 'etcd3';
import { testServices } from '@api-router/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  adminCall,
  createPlaneWorkspace,
  removePlaneWorkspace,
  eventually,
  readiness,
  startControlPlaneProcess,
  startDataPlaneProcess,
  type PlaneWorkspace,
  type RunningControlPlane,
  type RunningDataPlane,
} from './support/planes.js';

// Issue 2, the Config Service path: the control plane watches etcd (the real server started for the
// integration project), and a change written to etcd becomes the data plane's active policy without a
// restart of either process.
const prefix = `/e2e-${randomUUID()}/config/`;
let etcd: Etcd3;
let controlPlane: RunningControlPlane | undefined;
let dataPlane: RunningDataPlane | undefined;
let policiesText: string;
let workspace: PlaneWorkspace | undefined;

async function activeVersion(): Promise<bigint | undefined> {
  const { status, detail } = await readiness(dataPlane!.url);
  return status === 200 && detail.policy ? BigInt(detail.policy.version) : undefined;
}

beforeAll(async () => {
  const endpoints = testServices().ETCD_ENDPOINTS;
  etcd = new Etcd3({ hosts: endpoints.split(',') });
  workspace = await createPlaneWorkspace();
  policiesText = readFileSync(workspace.policiesConfig, 'utf8');
  await etcd.put(`${prefix}router.yaml`).value(readFileSync(workspace.routerConfig, 'utf8'));
  await etcd.put(`${prefix}policies.yaml`).value(policiesText);
  controlPlane = await startControlPlaneProcess(workspace, {
    CP_CONFIG_SOURCE: 'etcd',
    CP_ETCD_ENDPOINTS: endpoints,
    CP_ETCD_PREFIX: prefix,
  });
  dataPlane = await startDataPlaneProcess(workspace);
});

afterAll(async () => {
  await dataPlane?.process.stop();
  await controlPlane?.process.stop();
  if (workspace !== undefined) await removePlaneWorkspace(workspace);
  await etcd.delete().prefix(prefix);
  etcd.close();
});

describe('etcd as the Config Service', () => {
  it('applies a change written to etcd on the running data plane', async () => {
    const first = await eventually(activeVersion, 30_000, 'data plane ready from etcd config');
    const pid = dataPlane!.process.pid;
    await etcd
      .put(`${prefix}policies.yaml`)
      .value(policiesText.replace('Demo tenant', 'Demo tenant (etcd edit)'));
    const second = await eventually(async () => {
      const version = await activeVersion();
      return version !== undefined && version > first ? version : undefined;
    });
    expect(second).toBeGreaterThan(first);
    expect(dataPlane!.process.pid).toBe(pid);
  });

  it('keeps the last good policy when etcd receives an invalid document', async () => {
    const good = (await activeVersion())!;
    await etcd.put(`${prefix}router.yaml`).value('backends: [');
    await etcd
      .put(`${prefix}policies.yaml`)
      .value(policiesText.replace('Demo tenant', 'Demo tenant (after bad router)'));
    // Both documents are read together: the malformed router.yaml keeps everything at the last good version,
    // and the control plane names the etcd key that is wrong.
    const status = await eventually(async () => {
      const response = await adminCall<{ lastError?: { source?: string; message?: string } }>(
        controlPlane!.httpUrl,
        'GetConfigStatus',
      );
      return response.body.lastError?.source?.endsWith('router.yaml') ? response.body.lastError : undefined;
    });
    expect(status.source).toBe(`${prefix}router.yaml`);
    expect(await activeVersion()).toBe(good);
  });
});
