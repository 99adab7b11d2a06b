export { freePort } from './process/free-port.js';
export { isPidAlive } from './process/pid-liveness.js';
export { readLogTail } from './process/log-tail.js';
export { stopPid, waitForExit, type StopPidOptions } from './process/stop-pid.js';
export { waitFor, type WaitForOptions } from './process/wait-for.js';
export {
  SpawnedProcess,
  spawnProcess,
  type ProcessExit,
  type SpawnProcessOptions,
  type WaitForLineOptions,
} from './process/spawned-process.js';
export { runEntryPoint, type EntryPointExit } from './process/run-entry-point.js';
export { spawnNodeProcess, type SpawnNodeProcessOptions } from './process/spawn-node-process.js';
export type { ServiceHandle, StartServiceOptions } from './local-services/service-handle.js';
export { silentLogger, type ServiceLogger } from './local-services/service-logger.js';
export { startRedis, probeRedis } from './local-services/redis-service.js';
export { startPostgres, probePostgres } from './local-services/postgres-service.js';
export { ETCD, etcdMemberArgs, startEtcd, probeEtcd } from './local-services/etcd-service.js';
export { startKafka, probeKafka, type StartKafkaOptions } from './local-services/kafka-service.js';
export { KAFKA_VERSION, ensureKafkaLibs, defaultKafkaCacheDir } from './local-services/kafka-distribution.js';
export {
  LOCAL_SERVICES,
  startLocalServices,
  verifyServices,
  type LocalServices,
  type LocalServiceName,
} from './local-services/local-services.js';
export { SERVICES_ENV_KEYS, type ServicesEnv } from './local-services/services-env.js';
export { testServices } from './test-services.js';
export { repoRoot } from './repo-root.js';
