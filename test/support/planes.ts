import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  freePort,
  repoRoot,
  spawnNodeProcess,
  spawnProcess,
  waitFor,
  type SpawnedProcess,
} from '@api-router/testing';

/** Admin token of configs/router.sample.yaml (demo only). */
export const ADMIN_TOKEN = 'admin-demo-token-change-me';

export interface PlaneWorkspace {
  dir: string;
  routerConfig: string;
  policiesConfig: string;
  cpStateDir: string;
  dpCacheDir: string;
  grpcPort: number;
  httpPort: number;
}

/** A temp dir with copies of the sample config and fixed free ports, so a restarted plane keeps its address. */
export async function createPlaneWorkspace(): Promise<PlaneWorkspace> {
  const dir = mkdtempSync(join(tmpdir(), 'planes-'));
  const root = repoRoot();
  const routerConfig = join(dir, 'router.yaml');
  const policiesConfig = join(dir, 'policies.yaml');
  copyFileSync(join(root, 'configs/router.sample.yaml'), routerConfig);
  copyFileSync(join(root, 'configs/policies.sample.yaml'), policiesConfig);
  const cpStateDir = join(dir, 'cp-state');
  const dpCacheDir = join(dir, 'dp-cache');
  mkdirSync(cpStateDir);
  mkdirSync(dpCacheDir);
  return {
    dir,
    routerConfig,
    policiesConfig,
    cpStateDir,
    dpCacheDir,
    grpcPort: await freePort(),
    httpPort: await freePort(),
  };
}

/**
 * Deletes a workspace and everything the planes wrote in it (the control plane's record store, the data
 * plane's outbox and snapshot cache: hundreds of MB after a benchmark). Call it once its processes are
 * stopped.
 */
export async function removePlaneWorkspace(workspace: PlaneWorkspace): Promise<void> {
  await rm(workspace.dir, { recursive: true, force: true });
}

/**
 * How a service process runs: 'source' = src/main.ts through tsx (no build needed; tests), 'built' =
 * dist/main.js with plain node, as in production (benchmarks; needs `pnpm build`).
 */
export type ServiceRuntime = 'source' | 'built';

/** Starts `services/<service>/src/main.ts` (source) or `services/<service>/dist/main.js` (built). */
export async function spawnService(
  service: string,
  env: NodeJS.ProcessEnv,
  runtime: ServiceRuntime = 'source',
): Promise<SpawnedProcess> {
  if (runtime === 'source') return spawnNodeProcess({ script: `services/${service}/src/main.ts`, env });
  const entry = join(repoRoot(), 'services', service, 'dist', 'main.js');
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`pnpm build\` first`);
  const nodeFlags = serviceNodeFlags(join(repoRoot(), 'services', service));
  return spawnProcess({ command: process.execPath, args: [...nodeFlags, entry], cwd: repoRoot(), env });
}

/**
 * The Node flags a service runs with in production: `apiRouter.nodeFlags` of its package.json (the data
 * plane's heap sizing, docs/adr/0006 and 0007); none when the field is absent (also older builds).
 */
export function serviceNodeFlags(packageDir: string): string[] {
  const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {
    apiRouter?: { nodeFlags?: string[] };
  };
  return manifest.apiRouter?.nodeFlags ?? [];
}

export interface RunningControlPlane {
  process: SpawnedProcess;
  httpUrl: string;
}

export async function startControlPlaneProcess(
  workspace: PlaneWorkspace,
  extraEnv: Record<string, string> = {},
  runtime: ServiceRuntime = 'source',
): Promise<RunningControlPlane> {
  const process_ = await spawnService(
    'control-plane',
    {
      ...process.env,
      LOG_LEVEL: 'info',
      CP_GRPC_PORT: String(workspace.grpcPort),
      CP_HTTP_PORT: String(workspace.httpPort),
      CP_ROUTER_CONFIG: workspace.routerConfig,
      CP_POLICIES_CONFIG: workspace.policiesConfig,
      CP_STATE_DIR: workspace.cpStateDir,
      CP_DRAIN_DELAY_MS: '0',
      ...extraEnv,
    },
    runtime,
  );
  const line = await waitOrStop(process_, (_, json) => json?.msg === 'listening' && json.server === 'http');
  return { process: process_, httpUrl: listeningUrl(line) };
}

export interface RunningDataPlane {
  process: SpawnedProcess;
  url: string;
}

export async function startDataPlaneProcess(
  workspace: PlaneWorkspace,
  extraEnv: Record<string, string> = {},
  runtime: ServiceRuntime = 'source',
): Promise<RunningDataPlane> {
  const process_ = await spawnService(
    'data-plane',
    {
      ...process.env,
      LOG_LEVEL: 'info',
      DP_PORT: '0',
      DP_CONTROL_PLANE_ADDRESS: `127.0.0.1:${workspace.grpcPort}`,
      DP_CACHE_DIR: workspace.dpCacheDir,
      DP_DRAIN_DELAY_MS: '0',
      ...extraEnv,
    },
    runtime,
  );
  const line = await waitOrStop(process_, (_, json) => json?.msg === 'listening' && json.server === 'public');
  return { process: process_, url: listeningUrl(line) };
}

/** `waitForLine`, but a process that never logs the line is stopped before the error propagates. */
export async function waitOrStop(
  process_: SpawnedProcess,
  predicate: (line: string, json: Record<string, unknown> | undefined) => boolean,
): Promise<string> {
  try {
    return await process_.waitForLine(predicate);
  } catch (error: unknown) {
    await process_.stop();
    throw error;
  }
}

function listeningUrl(line: string): string {
  return String((JSON.parse(line) as { url: unknown }).url);
}

/** Calls an AdminService method over Connect JSON (HTTP/1.1), as an operator would with curl. */
export async function adminCall<T = Record<string, unknown>>(
  httpUrl: string,
  method: string,
  body: unknown = {},
  token: string = ADMIN_TOKEN,
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${httpUrl}/router.v1.AdminService/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as T };
}

export interface ReadyDetail {
  ready: boolean;
  policy: { version: string; source: string } | null;
  controlPlane: { state: string; connected: boolean };
  /** The record outbox: undelivered records and the oldest one's age (data planes with an outbox). */
  outbox?: { pending: number; oldestAgeSeconds: number; transport: string };
}

export async function readiness(url: string): Promise<{ status: number; detail: ReadyDetail }> {
  const response = await fetch(`${url}/readyz`);
  return { status: response.status, detail: (await response.json()) as ReadyDetail };
}

/** Polls `probe` every 50 ms until it returns a value other than undefined, or fails after `timeoutMs`. */
export function eventually<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<T> {
  return waitFor(what, probe, { timeoutMs, intervalMs: 50 });
}

/** Value of one Prometheus sample, e.g. metricValue(text, 'router_policy_updates_total{outcome="applied"}'). */
export function metricValue(metricsText: string, series: string): number | undefined {
  for (const line of metricsText.split('\n')) {
    if (line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    const name = line.slice(0, space);
    if (name === series || stripExtraLabels(name) === series) return Number(line.slice(space + 1));
  }
  return undefined;
}

// A registry may add default labels (service="…"); match a series written without them too.
function stripExtraLabels(name: string): string {
  return name
    .replace(/,?service="[^"]*"/, '')
    .replace('{}', '')
    .replace('{,', '{');
}

export async function scrape(url: string): Promise<string> {
  const response = await fetch(`${url}/metrics`);
  if (!response.ok) throw new Error(`GET ${url}/metrics → ${response.status}`);
  return response.text();
}
