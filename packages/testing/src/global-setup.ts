// vitest globalSetup of the "integration" project (see vitest.config.ts). Runs once in the main process:
// - REDIS_URL, DATABASE_URL, ETCD_ENDPOINTS and KAFKA_BROKERS all set (deploy/local/services.sh start,
//   then `source .tmp/services/services.env`): each must answer, or the run fails here, naming which.
// - none set: starts private instances under .tmp/test-services/run-<pid>-<ms>/ and stops them by pid in
//   teardown; services of earlier runs whose vitest process died without teardown are stopped first.
// Tests read the URLs with testServices() (vitest provide/inject); process.env is not touched.
// Nothing here imports workspace packages: vitest loads this file without the "source" condition.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { readServicesEnvFromProcess } from './config.js';
import { startLocalServices, verifyServices } from './local-services/local-services.js';
import { reapStaleRuns, runDirName } from './local-services/stale-runs.js';
import { writeServicesState } from './local-services/services-state.js';
import { repoRoot } from './repo-root.js';
import type { ServicesEnv } from './local-services/services-env.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const given = readServicesEnvFromProcess();
  if (given.env !== undefined) {
    await assertAnswering(given.env);
    project.provide('services', given.env);
    // Services from the environment belong to whoever started them: nothing to stop here.
    return () => Promise.resolve();
  }
  if (given.missing.length < 4) {
    throw new Error(
      `integration tests: set all of REDIS_URL, DATABASE_URL, ETCD_ENDPOINTS, KAFKA_BROKERS or none ` +
        `(missing: ${given.missing.join(', ')}). bash deploy/local/services.sh start writes them to ` +
        `.tmp/services/services.env.`,
    );
  }
  const parentDir = join(repoRoot(), '.tmp', 'test-services');
  await reapStaleRuns(parentDir);
  const runDir = join(parentDir, runDirName(process.pid, Date.now()));
  await mkdir(runDir, { recursive: true, mode: 0o755 });
  const services = await startLocalServices({ runDir });
  // Recorded so that a later run can stop them if this one is killed before its teardown.
  await writeServicesState(runDir, {
    env: services.env,
    pids: services.handles.map(({ name, pid, dir }) => ({ name, pid, dir })),
  });
  project.provide('services', services.env);
  return async () => {
    await services.stop();
    await rm(runDir, { recursive: true, force: true });
  };
}

async function assertAnswering(env: ServicesEnv): Promise<void> {
  const problems = await verifyServices(env);
  if (problems.length > 0) {
    throw new Error(
      `integration tests: backing services from the environment do not answer:\n  ${problems.join('\n  ')}\n` +
        `Start them with \`bash deploy/local/services.sh start\` and source .tmp/services/services.env, ` +
        `or unset the four variables to let the test run start its own.`,
    );
  }
}
