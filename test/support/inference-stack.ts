import { pointBackendsAt } from './inference-config.js';
import { startMockBackendProcess, type RunningMockBackend } from './mock-backend-process.js';
import {
  createPlaneWorkspace,
  eventually,
  readiness,
  removePlaneWorkspace,
  startControlPlaneProcess,
  startDataPlaneProcess,
  type PlaneWorkspace,
  type RunningControlPlane,
  type RunningDataPlane,
  type ServiceRuntime,
} from './planes.js';

export interface InferenceStackOptions {
  /**
   * Mock backend processes to start, by backend id of configs/router.sample.yaml (mock-a, mock-b), each
   * with its MOCK_* environment. A backend id mapped to a string reuses the mock of that id instead
   * (e.g. `{ 'mock-a': {}, 'mock-b': 'mock-a' }`: one mock behind both backends).
   */
  mocks: Readonly<Record<string, Record<string, string> | string>>;
  /** Edits of the workspace's config copies before the control plane starts (keys, tenants …). */
  prepare?: (workspace: PlaneWorkspace) => void;
  controlPlaneEnv?: Record<string, string>;
  dataPlaneEnv?: Record<string, string>;
  /** Default 'source' (src through tsx); 'built' runs dist/main.js like production. */
  runtime?: ServiceRuntime;
}

/** Mock backends, a control plane and a data plane, each its own process, the data plane ready. */
export interface InferenceStack extends AsyncDisposable {
  workspace: PlaneWorkspace;
  /** The started mocks by their id (= MOCK_ID = the backend id they stand behind first). */
  mocks: Record<string, RunningMockBackend>;
  controlPlane: RunningControlPlane;
  dataPlane: RunningDataPlane;
  /**
   * Stops every process still running, data plane first, then deletes the workspace; safe to call more than
   * once.
   */
  stop(): Promise<void>;
}

/**
 * Starts the whole inference path from the sample configs with the backends pointed at fresh mock
 * processes, and waits (up to 30 s) until the data plane answers /readyz with 200. Whatever started is
 * stopped again if a later step fails.
 */
export async function startInferenceStack(options: InferenceStackOptions): Promise<InferenceStack> {
  const runtime = options.runtime ?? 'source';
  const mocks: Record<string, RunningMockBackend> = {};
  let controlPlane: RunningControlPlane | undefined;
  let dataPlane: RunningDataPlane | undefined;
  let workspace: PlaneWorkspace | undefined;
  const stop = async (): Promise<void> => {
    await dataPlane?.process.stop();
    await controlPlane?.process.stop();
    await Promise.all(Object.values(mocks).map((mock) => mock.process.stop()));
    if (workspace !== undefined) await removePlaneWorkspace(workspace);
  };
  try {
    workspace = await createPlaneWorkspace();
    for (const [id, env] of Object.entries(options.mocks)) {
      if (typeof env !== 'string') mocks[id] = await startMockBackendProcess(id, env, runtime);
    }
    const origins = Object.fromEntries(
      Object.entries(options.mocks).map(([id, env]) => [
        id,
        mockFor(mocks, typeof env === 'string' ? env : id),
      ]),
    );
    pointBackendsAt(workspace.routerConfig, origins);
    options.prepare?.(workspace);
    controlPlane = await startControlPlaneProcess(workspace, options.controlPlaneEnv, runtime);
    dataPlane = await startDataPlaneProcess(workspace, options.dataPlaneEnv, runtime);
    const ready = dataPlane;
    await eventually(
      async () => ((await readiness(ready.url)).status === 200 ? true : undefined),
      30_000,
      'data plane ready',
    );
    return {
      workspace,
      mocks,
      controlPlane,
      dataPlane,
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (error: unknown) {
    await stop();
    throw error;
  }
}

function mockFor(mocks: Record<string, RunningMockBackend>, id: string): string {
  const mock = mocks[id];
  if (mock === undefined) throw new Error(`no mock backend "${id}" started`);
  return mock.url;
}
