import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, repoRoot, stopPid } from '@api-router/testing';
import { eventually, readiness, serviceNodeFlags, type PlaneWorkspace } from '../test/support/planes.js';

export interface BenchDataPlane {
  url: string;
  child: ChildProcess;
  logFile: string;
}

export interface BenchDataPlaneOptions {
  /** 'built': dist/main.js as in production; 'source': src through tsx. */
  runtime: 'built' | 'source';
  /** Directory of the data-plane package whose dist/ runs (another build, for before/after); default this repo's. */
  packageDir?: string | undefined;
  /** Extra node flags (e.g. --cpu-prof). */
  nodeArgs?: readonly string[];
  /** The Node.js binary to run it with (another runtime, for a comparison); default the benchmark's own. */
  nodePath?: string | undefined;
  /** Environment on top of the workspace's DP_* settings (DP_ID, LOG_LEVEL, DP_REDIS_URL…). */
  env: Record<string, string>;
}

/**
 * Starts a data plane for a benchmark, against the workspace's control plane, and waits until it is ready.
 * Spawned here rather than through SpawnedProcess: its per-request log lines go to a file, so that the
 * benchmark process (busy running autocannon) never slows it down by draining a pipe.
 */
export async function startBenchDataPlane(
  workspace: PlaneWorkspace,
  options: BenchDataPlaneOptions,
): Promise<BenchDataPlane> {
  const port = await freePort();
  const logFile = join(workspace.dir, 'data-plane.log');
  const log = openSync(logFile, 'a');
  const entry =
    options.runtime === 'built'
      ? [join(options.packageDir ?? join(repoRoot(), 'services/data-plane'), 'dist/main.js')]
      : ['--conditions=source', '--import', 'tsx', 'services/data-plane/src/main.ts'];
  if (options.runtime === 'built' && !existsSync(entry[0]!))
    throw new Error(`${entry[0]} is missing: run pnpm build`);
  // The flags the data plane runs with in production (its package.json, apiRouter.nodeFlags).
  const nodeFlags = serviceNodeFlags(options.packageDir ?? join(repoRoot(), 'services/data-plane'));
  const child = spawn(
    options.nodePath ?? process.execPath,
    [...nodeFlags, ...(options.nodeArgs ?? []), ...entry],
    {
      cwd: repoRoot(),
      stdio: ['ignore', log, log],
      env: {
        ...process.env,
        DP_PORT: String(port),
        DP_CONTROL_PLANE_ADDRESS: `127.0.0.1:${workspace.grpcPort}`,
        DP_CACHE_DIR: workspace.dpCacheDir,
        DP_DRAIN_DELAY_MS: '0',
        ...options.env,
      },
    },
  );
  const url = `http://127.0.0.1:${port}`;
  try {
    await eventually(async () => ((await readiness(url)).status === 200 ? true : undefined), 30_000);
  } catch (error: unknown) {
    if (child.pid !== undefined) await stopPid(child.pid);
    throw new Error(`data plane not ready; its log: ${logFile}`, { cause: error });
  }
  return { url, child, logFile };
}
