import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@api-router/observability';
import { startControlPlane, type ControlPlane, type ControlPlaneConfig } from '../src/index.js';
import { POLICIES_YAML, routerYaml } from './config-yaml.js';

export interface TestControlPlane extends AsyncDisposable {
  controlPlane: ControlPlane;
  routerPath: string;
  policiesPath: string;
  stateDir: string;
  /** Replaces router.yaml the way editors do (write a temp file, rename it over). */
  writeRouter(text: string): Promise<void>;
}

/** A control plane on 127.0.0.1 port 0 with the file source over a fresh temp dir. */
export async function startTestControlPlane(
  overrides: Partial<ControlPlaneConfig> = {},
  files: { router?: string; policies?: string } = {},
  /** Runs on the empty state dir before the control plane starts (e.g. to seed its audit store). */
  prepareState?: (stateDir: string) => Promise<void>,
): Promise<TestControlPlane> {
  const directory = await mkdtemp(join(tmpdir(), 'cp-it-'));
  const routerPath = join(directory, 'config', 'router.yaml');
  const policiesPath = join(directory, 'config', 'policies.yaml');
  const stateDir = join(directory, 'state');
  await mkdir(join(directory, 'config'));
  await writeFile(routerPath, files.router ?? routerYaml());
  await writeFile(policiesPath, files.policies ?? POLICIES_YAML);
  if (prepareState !== undefined) {
    await mkdir(stateDir);
    await prepareState(stateDir);
  }
  const config: ControlPlaneConfig = {
    host: '127.0.0.1',
    grpcPort: 0,
    httpPort: 0,
    configSource: { kind: 'file', routerPath, policiesPath },
    stateDir,
    drainDelayMs: 0,
    policyHeartbeatMs: 30_000,
    databaseUrl: undefined,
    logLevel: 'silent',
    otlpTracesEndpoint: undefined,
    ...overrides,
  };
  const controlPlane = await startControlPlane(config, {
    logger: createLogger({ service: 'control-plane-test', level: 'warn', destination: process.stderr }),
  });
  return {
    controlPlane,
    routerPath,
    policiesPath,
    stateDir,
    async writeRouter(text) {
      await writeFile(`${routerPath}.tmp`, text);
      await rename(`${routerPath}.tmp`, routerPath);
    },
    async [Symbol.asyncDispose]() {
      await controlPlane[Symbol.asyncDispose]();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
