import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSigner } from '@api-router/auth';
import { isPidAlive, repoRoot, spawnProcess, stopPid, type SpawnedProcess } from '@api-router/testing';
import { childPids } from './support/child-pids.js';
import { DEMO_API_KEY, DEMO_MODEL } from './support/inference-config.js';
import { postJson } from './support/inference-requests.js';
import { adminCall, eventually, readiness, scrape } from './support/planes.js';

// The README's start path from the built code: `node scripts/start-local.mjs --free-ports` (what
// `bash scripts/start.sh --free-ports` execs) starts two mock backends, the control plane and the data
// plane from dist/, prints how to try it, and stops every child on Ctrl-C (SIGINT).

const root = repoRoot();
const BUILT_ENTRIES = [
  'services/mock-backend/dist/main.js',
  'services/control-plane/dist/main.js',
  'services/data-plane/dist/main.js',
  'packages/auth/dist/cli/sign-request.js',
];

interface Endpoints {
  dataPlane: string;
  controlPlaneHttp: string;
  controlPlaneGrpc: string;
  policyVersion: string;
}

let launcher: SpawnedProcess | undefined;
let children: number[] = [];
let endpoints: Endpoints;

beforeAll(async () => {
  const missing = BUILT_ENTRIES.filter((entry) => !existsSync(join(root, entry)));
  if (missing.length > 0) {
    throw new Error(
      `the start command runs built code; run \`pnpm build\` first (missing: ${missing.join(', ')})`,
    );
  }
  launcher = await spawnProcess({
    command: process.execPath,
    args: ['scripts/start-local.mjs', '--free-ports'],
    cwd: root,
  });
  await launcher.waitForLine((line) => line.includes('API router is running'), { timeoutMs: 90_000 });
  endpoints = JSON.parse(readFileSync(join(root, '.tmp/local/endpoints.json'), 'utf8')) as Endpoints;
  children = childPids(launcher.pid);
});

afterAll(async () => {
  // Normally already gone (the last case stops them); this only cleans up after a failure.
  await launcher?.stop({ signal: 'SIGINT', graceMs: 15_000 });
  for (const pid of children) await stopPid(pid);
});

describe('the local start command (built code)', () => {
  it('prints working requests and runs both planes and two mock backends as child processes', () => {
    const printed = launcher!.lines.join('\n');
    expect(printed).toContain(`${endpoints.dataPlane}/v1/chat/completions`);
    expect(printed).toContain(`Authorization: Bearer ${DEMO_API_KEY}`);
    expect(printed).toContain('sign-request.js');
    expect(children).toHaveLength(4);
  });

  it('has a ready data plane and metrics on both planes', async () => {
    const { status, detail } = await readiness(endpoints.dataPlane);
    expect(status).toBe(200);
    expect(detail.policy?.version).toBe(endpoints.policyVersion);
    expect(await scrape(endpoints.dataPlane)).toContain('router_policy_version');
    expect(await scrape(endpoints.controlPlaneHttp)).toContain('router_cp_published_version');
  });

  it('lists the data plane through the admin API with the version it runs', async () => {
    const row = await eventually(async () => {
      const listed = await adminCall<{
        dataPlanes?: { connected?: boolean; appliedVersion?: string }[];
      }>(endpoints.controlPlaneHttp, 'ListDataPlanes');
      expect(listed.status).toBe(200);
      return listed.body.dataPlanes?.find((plane) => plane.appliedVersion === endpoints.policyVersion);
    });
    expect(row.connected).toBe(true);
  });

  it('serves an inference request with the demo key, and one signed with the demo signing secret', async () => {
    const url = `${endpoints.dataPlane}/v1/chat/completions`;
    const body = JSON.stringify({ model: DEMO_MODEL, messages: [{ role: 'user', content: 'Hello' }] });
    const keyed = await postJson(url, body, { authorization: `Bearer ${DEMO_API_KEY}` });
    expect(keyed.status).toBe(200);
    expect(['mock-a', 'mock-b']).toContain(keyed.headers.get('x-router-backend'));
    await keyed.arrayBuffer();

    const secret = Buffer.from(
      readFileSync(join(root, '.tmp/local/demo-signing.secret'), 'utf8').trim(),
      'base64',
    );
    const headers = createSigner({ keyId: 'rk_demo01', secret })({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json' },
      body,
    });
    const signed = await fetch(url, { method: 'POST', headers, body });
    expect(signed.status).toBe(200);
  });

  it('stops every child on SIGINT and exits', async () => {
    process.kill(launcher!.pid, 'SIGINT');
    const exit = await Promise.race([
      launcher!.exited,
      new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 30_000)),
    ]);
    expect(exit).not.toBe('timeout');
    for (const pid of children) expect(await isPidAlive(pid), `child ${pid}`).toBe(false);
  });
});
