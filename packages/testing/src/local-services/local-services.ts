import type { ServiceLogger } from './service-logger.js';
import { startEtcd, probeEtcd } from './etcd-service.js';
import { startKafka, probeKafka } from './kafka-service.js';
import { POSTGRES_STOP_SIGNAL, probePostgres, startPostgres } from './postgres-service.js';
import { probeRedis, startRedis } from './redis-service.js';
import type { ServiceHandle, StartServiceOptions } from './service-handle.js';
import type { ServicesEnv } from './services-env.js';
import { silentLogger } from './service-logger.js';

export type LocalServiceName = 'redis' | 'postgres' | 'etcd' | 'kafka';

interface ServiceDefinition {
  name: LocalServiceName;
  envKey: keyof ServicesEnv;
  start: (options: StartServiceOptions) => Promise<ServiceHandle>;
  probe: (url: string) => Promise<void>;
  /** Signal that shuts the server down cleanly. */
  stopSignal: NodeJS.Signals;
  /** How long a clean shutdown may take before SIGKILL. */
  graceMs: number;
}

/** The four backing services, in the order their results are reported. */
export const LOCAL_SERVICES: readonly ServiceDefinition[] = [
  {
    name: 'redis',
    envKey: 'REDIS_URL',
    start: startRedis,
    probe: probeRedis,
    stopSignal: 'SIGTERM',
    graceMs: 10_000,
  },
  {
    name: 'postgres',
    envKey: 'DATABASE_URL',
    start: startPostgres,
    probe: probePostgres,
    stopSignal: POSTGRES_STOP_SIGNAL,
    graceMs: 15_000,
  },
  {
    name: 'etcd',
    envKey: 'ETCD_ENDPOINTS',
    start: startEtcd,
    probe: probeEtcd,
    stopSignal: 'SIGTERM',
    graceMs: 10_000,
  },
  {
    name: 'kafka',
    envKey: 'KAFKA_BROKERS',
    start: startKafka,
    probe: probeKafka,
    stopSignal: 'SIGTERM',
    graceMs: 30_000,
  },
];

/** Redis, Postgres, etcd and Kafka started together; `stop()` stops all four by pid. */
export interface LocalServices extends AsyncDisposable {
  readonly handles: readonly ServiceHandle[];
  readonly env: ServicesEnv;
  stop(): Promise<void>;
}

/**
 * Starts all four services in parallel under `runDir` (Kafka, a JVM, takes longest). If any fails, the
 * ones that did start are stopped again and the rejection names every failure.
 */
export async function startLocalServices(options: {
  runDir: string;
  logger?: ServiceLogger;
}): Promise<LocalServices> {
  const logger = options.logger ?? silentLogger();
  const results = await Promise.allSettled(
    LOCAL_SERVICES.map((service) => service.start({ runDir: options.runDir, logger })),
  );
  const handles = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failures = results.flatMap((result): unknown[] =>
    result.status === 'rejected' ? [result.reason] : [],
  );
  if (failures.length > 0) {
    await Promise.allSettled(handles.map((handle) => handle.stop()));
    const messages = failures.map((failure) =>
      failure instanceof Error ? failure.message : String(failure),
    );
    throw new AggregateError(failures, `local services failed to start:\n${messages.join('\n\n')}`);
  }
  const env = servicesEnvOf(handles);
  const stop = async (): Promise<void> => {
    const stopped = await Promise.allSettled(handles.map((handle) => handle.stop()));
    const errors = stopped.flatMap((result): unknown[] =>
      result.status === 'rejected' ? [result.reason] : [],
    );
    if (errors.length > 0) throw new AggregateError(errors, 'some local services did not stop');
  };
  return { handles, env, stop, [Symbol.asyncDispose]: stop };
}

/**
 * Probes each service named by `env` once (each probe is bounded to a few seconds) and resolves with one
 * human-readable line per service that does not answer; an empty list means all four are usable.
 */
export async function verifyServices(env: ServicesEnv): Promise<string[]> {
  const results = await Promise.allSettled(
    LOCAL_SERVICES.map((service) => service.probe(env[service.envKey])),
  );
  return results.flatMap((result, index) => {
    const service = LOCAL_SERVICES[index];
    if (result.status === 'fulfilled' || service === undefined) return [];
    const reason: unknown = result.reason;
    const message = reason instanceof Error ? reason.message : String(reason);
    return [`${service.name}: ${service.envKey}=${env[service.envKey]} does not answer (${message})`];
  });
}

function servicesEnvOf(handles: readonly ServiceHandle[]): ServicesEnv {
  const url = (name: LocalServiceName): string => {
    const handle = handles.find((candidate) => candidate.name === name);
    if (handle === undefined) throw new Error(`local services: ${name} missing`);
    return handle.url;
  };
  return {
    REDIS_URL: url('redis'),
    DATABASE_URL: url('postgres'),
    ETCD_ENDPOINTS: url('etcd'),
    KAFKA_BROKERS: url('kafka'),
  };
}
