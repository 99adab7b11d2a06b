import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { AdminService, PolicyApplyOutcome } from '@api-router/contracts';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ADMIN_TOKEN, VIEWER_TOKEN } from './config-yaml.js';
import { GrpcPolicyClient } from './grpc-policy-client.js';
import { startTestControlPlane, type TestControlPlane } from './start-test-control-plane.js';

async function codeOf(call: Promise<unknown>): Promise<Code | 'ok'> {
  try {
    await call;
    return 'ok';
  } catch (error: unknown) {
    return ConnectError.from(error).code;
  }
}

describe('admin API over Connect (HTTP/1.1)', () => {
  let running: TestControlPlane | undefined;
  let dataPlane: GrpcPolicyClient | undefined;
  afterEach(async () => {
    dataPlane?.close();
    await running?.[Symbol.asyncDispose]();
  });

  function adminClient() {
    return createClient(
      AdminService,
      createConnectTransport({ baseUrl: running!.controlPlane.httpUrl, httpVersion: '1.1' }),
    );
  }
  const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

  it('needs a known token: none or a wrong one is unauthenticated, viewer and admin tokens may read', async () => {
    running = await startTestControlPlane();
    const admin = adminClient();
    expect(await codeOf(admin.listDataPlanes({}))).toBe(Code.Unauthenticated);
    expect(await codeOf(admin.listDataPlanes({}, bearer('not-a-token')))).toBe(Code.Unauthenticated);
    expect(await codeOf(admin.listDataPlanes({}, bearer(VIEWER_TOKEN)))).toBe('ok');
    expect(await codeOf(admin.getEffectivePolicy({}, bearer(VIEWER_TOKEN)))).toBe('ok');
    expect(await codeOf(admin.getConfigStatus({}, bearer(ADMIN_TOKEN)))).toBe('ok');
  });

  it('lists a connected data plane with the version it applied and the one it rejected', async () => {
    running = await startTestControlPlane();
    const admin = adminClient();
    dataPlane = new GrpcPolicyClient(running.controlPlane.grpcUrl);
    const identity = { id: 'dp-1', hostname: 'node-1', buildVersion: '0.1.0' };
    dataPlane.watch({ dataPlane: identity });
    const version = (await dataPlane.next()).snapshot!.version;
    await dataPlane.report({
      dataPlane: identity,
      version,
      outcome: PolicyApplyOutcome.APPLIED,
      activeVersion: version,
    });
    await dataPlane.report({
      dataPlane: identity,
      version: version + 1n,
      outcome: PolicyApplyOutcome.REJECTED,
      reason: 'backend mock-a: credential env:MOCK_A_KEY is not set',
      activeVersion: version,
    });

    const { dataPlanes } = await admin.listDataPlanes({}, bearer(VIEWER_TOKEN));
    expect(dataPlanes).toHaveLength(1);
    expect(dataPlanes[0]).toMatchObject({
      identity,
      connected: true,
      appliedVersion: version,
      rejectedVersion: version + 1n,
      rejectReason: 'backend mock-a: credential env:MOCK_A_KEY is not set',
      peer: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
    });
    expect(dataPlanes[0]?.rejectedAt).toBeDefined();

    const metrics = await (await fetch(`${running.controlPlane.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/^router_cp_snapshot_rejections_total\{[^}]*\} 1$/m);
    expect(metrics).toMatch(/^router_cp_data_planes\{state="connected"[^}]*\} 1$/m);
    expect(metrics).toMatch(/^router_cp_policy_streams_active\{[^}]*\} 1$/m);
    expect(metrics).toMatch(new RegExp(`^router_cp_published_version\\{[^}]*\\} ${version}$`, 'm'));

    dataPlane.close();
    await vi.waitFor(
      async () => {
        const listed = await admin.listDataPlanes({}, bearer(VIEWER_TOKEN));
        expect(listed.dataPlanes[0]?.connected).toBe(false);
      },
      { timeout: 10_000, interval: 50 },
    );
  });

  it('answers curl-style Connect JSON, and serves /healthz, /readyz and 404', async () => {
    running = await startTestControlPlane();
    const { httpUrl } = running.controlPlane;
    const response = await fetch(`${httpUrl}/router.v1.AdminService/GetConfigStatus`, {
      method: 'POST',
      headers: { authorization: `Bearer ${VIEWER_TOKEN}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { publishedVersion?: string; sourceRevision?: string };
    expect(body.publishedVersion).toMatch(/^\d+$/);
    expect(body.sourceRevision).toMatch(/^file:/);

    const denied = await fetch(`${httpUrl}/router.v1.AdminService/ListDataPlanes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(denied.status).toBe(401);
    expect(((await denied.json()) as { code: string }).code).toBe('unauthenticated');

    expect((await fetch(`${httpUrl}/healthz`)).status).toBe(200);
    const ready = await fetch(`${httpUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { ready: boolean }).ready).toBe(true);
    expect((await fetch(`${httpUrl}/nope`)).status).toBe(404);
  });
});
