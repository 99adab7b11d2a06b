// Starts, stops and reports the local Redis, Postgres, etcd and Kafka that tests and local runs use.
// Run through deploy/local/services.sh (which also installs etcd); state lives in .tmp/services:
//   services.env  REDIS_URL / DATABASE_URL / ETCD_ENDPOINTS / KAFKA_BROKERS, `source`-able
//   pids          "<name> <pid> <dir>" per line; `stop` signals exactly these pids and removes a dir kept
//                 outside .tmp/services (postgres, when its user cannot reach the checkout)
import { join } from 'node:path';
import { createLogger } from '@api-router/observability';
import { isPidAlive } from './process/pid-liveness.js';
import { startLocalServices, verifyServices } from './local-services/local-services.js';
import {
  SERVICES_ENV_FILE,
  allRecordedAlive,
  readServicesState,
  stopRecordedServices,
  writeServicesState,
} from './local-services/services-state.js';
import { KAFKA_VERSION, ensureKafkaLibs } from './local-services/kafka-distribution.js';
import { formatServicesEnv } from './local-services/services-env.js';
import { repoRoot } from './repo-root.js';

const stateDir = join(repoRoot(), '.tmp', 'services');
const logger = createLogger({ service: 'local-services', destination: process.stderr });

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function start(): Promise<number> {
  const state = await readServicesState(stateDir);
  if (state.env !== undefined && (await allRecordedAlive(state))) {
    const problems = await verifyServices(state.env);
    if (problems.length === 0) {
      print(`reusing running services (${join(stateDir, SERVICES_ENV_FILE)}):`);
      print(formatServicesEnv(state.env).trimEnd());
      return 0;
    }
    logger.warn({ problems }, 'recorded services do not all answer; restarting them');
  }
  // Whatever is left of an earlier start (some pids dead, some alive) is stopped before a fresh start.
  await stopRecordedServices(stateDir);
  const startedAt = Date.now();
  const services = await startLocalServices({ runDir: stateDir, logger });
  await writeServicesState(stateDir, {
    env: services.env,
    pids: services.handles.map(({ name, pid, dir }) => ({ name, pid, dir })),
  });
  print(
    `started in ${((Date.now() - startedAt) / 1000).toFixed(1)} s (${join(stateDir, SERVICES_ENV_FILE)}):`,
  );
  for (const handle of services.handles) print(`  ${handle.name.padEnd(9)} pid ${handle.pid}  ${handle.url}`);
  return 0;
}

async function stop(): Promise<number> {
  const stopped = await stopRecordedServices(stateDir);
  print(stopped.length === 0 ? 'no recorded services' : `stopped: ${stopped.join(', ')}`);
  return 0;
}

async function status(): Promise<number> {
  const state = await readServicesState(stateDir);
  if (state.pids.length === 0 || state.env === undefined) {
    print('not started (no .tmp/services/pids)');
    return 1;
  }
  for (const { name, pid } of state.pids)
    print(`  ${name.padEnd(9)} pid ${pid}  ${(await isPidAlive(pid)) ? 'alive' : 'DEAD'}`);
  const problems = await verifyServices(state.env);
  for (const problem of problems) print(`  NOT ANSWERING ${problem}`);
  print(problems.length === 0 ? 'all services answer' : `${problems.length} service(s) not answering`);
  return problems.length === 0 ? 0 : 1;
}

async function fetchKafka(): Promise<number> {
  print(`kafka ${KAFKA_VERSION} jars: ${await ensureKafkaLibs({ logger })}`);
  return 0;
}

const commands: Record<string, () => Promise<number>> = { start, stop, status, 'fetch-kafka': fetchKafka };
const command = commands[process.argv[2] ?? ''];
if (command === undefined) {
  process.stderr.write('usage: local-services-cli start|stop|status|fetch-kafka\n');
  process.exit(2);
}
command().then(
  (code) => process.exit(code),
  (error: unknown) => {
    logger.error({ err: error }, 'local services command failed');
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
