import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Tracer } from '@opentelemetry/api';
import { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { OutboxTransport } from '@api-router/outbox';
import { createMemoryNonceStore, createRedisNonceStore, type NonceStore } from '@api-router/auth';
import { createLogger, createMetricsRegistry, createTracing, type Logger } from '@api-router/observability';
import { systemClock, type Clock } from './clock.js';
import type { DataPlaneConfig } from './config.js';
import { createCredentialResolver, type CredentialResolver } from './credentials/credential-resolver.js';
import { buildApp } from './http/app.js';
import { createAdmission } from './admission/create-admission.js';
import type { LimitsReadinessDetail } from './admission/limit-store-health.js';
import { createInferenceRoutesDeps } from './inference/create-inference-routes-deps.js';
import type { InferenceRoutesDeps } from './inference/register-inference-routes.js';
import { SHUTDOWN_PROCESSING_WAIT_MS } from './inference/running-requests.js';
import { Readiness } from './http/readiness.js';
import {
  createPolicyMetrics,
  registerPolicyAgeGauges,
  type PolicyAgeSources,
  type PolicyMetrics,
} from './metrics/policy-metrics.js';
import { createGrpcPolicySyncTransport } from './policy/grpc-policy-sync-transport.js';
import { PolicyHolder, type ActivePolicy } from './policy/policy-holder.js';
import { PolicySyncClient } from './policy/policy-sync-client.js';
import type { PolicySyncTransport } from './policy/policy-sync-transport.js';
import { SnapshotCache } from './policy/snapshot-cache.js';
import { startRecordShipping, type RecordShipping } from './records/record-shipping.js';
import { ShutdownSteps } from './shutdown-steps.js';
import { delay, systemTimers, type Timers } from './timers.js';
import { UpstreamPools } from './upstream/upstream-pools.js';

/** A running data plane. Disposing it shuts it down gracefully (see startDataPlane). */
export interface DataPlane extends AsyncDisposable {
  /** Base URL of the public HTTP server, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  /** The service's own metrics registry (what GET /metrics serves). */
  readonly metricsRegistry: Registry;
}

/** Replaceable dependencies; every one defaults to the real thing. Tests inject fakes or capture logs. */
export interface DataPlaneDeps {
  logger?: Logger;
  clock?: Clock;
  timers?: Timers;
  random?: () => number;
  /** The policy sync wire; default gRPC to config.controlPlaneAddress. */
  transport?: PolicySyncTransport;
  /** Where the record outbox ships; default Kafka (config.records.kafka) or the control plane over gRPC. */
  recordTransport?: OutboxTransport;
}

/**
 * Starts the data plane. Start order:
 *   1. logger, metrics registry, tracing
 *   2. snapshot cache, credential resolver (secrets of each applied policy, in memory only)
 *   3. policy holder, loaded from the cache (a missing or corrupt cache only means "not ready yet")
 *   4. record outbox (opened and recovered) and its shipper (re-sends what an earlier run left undelivered)
 *   5. Redis client (only with config.redisUrl), nonce store, admission (limit store on the same client,
 *      fair queue), upstream pools
 *   6. fastify app with the inference API, listening (answers 503 not_ready until a policy is active)
 *   7. policy sync client started (connects to the control plane, reconnects forever)
 * Shutdown ([Symbol.asyncDispose]), in order:
 *   readiness → 503; wait config.drainDelayMs so load balancers notice; close the HTTP server (in-flight
 *   requests finish, open streams end; idle connections and those that never sent a byte are closed at
 *   once, the others once their answers are complete); wait for the inference requests still being processed (a request whose client left records
 *   its denial in a hook or its usage in its handler after its connection closed; at most
 *   SHUTDOWN_PROCESSING_WAIT_MS), so no record is appended after this; cancel a pending credential retry
 *   of a rejected snapshot and close the policy stream; wait for pending cache writes; flush the record
 *   shipper (at most config.records.flushTimeoutMs; the rest ships after the next start) and close the
 *   outbox; end admission (queued waits, background settlements); close Redis; close upstream pools; stop
 *   tracing (spans it cannot export are a warning, not a failure). A step that fails does not skip the
 *   later ones; the stop then rejects with the first failure, once all have run.
 * Rejects when the HTTP server cannot listen or the outbox directory cannot be opened; the control plane
 * or Kafka being unreachable is never a start failure.
 */
export async function startDataPlane(config: DataPlaneConfig, deps: DataPlaneDeps = {}): Promise<DataPlane> {
  const logger = deps.logger ?? createLogger({ service: 'data-plane', level: config.logLevel });
  const clock = deps.clock ?? systemClock;
  const timers = deps.timers ?? systemTimers;
  const metricsRegistry = createMetricsRegistry({ defaultLabels: { service: 'data-plane' } });
  const policyMetrics = createPolicyMetrics(metricsRegistry);
  const tracing = createTracing({ serviceName: 'data-plane', otlpEndpoint: config.otlpTracesEndpoint });

  const random = deps.random ?? Math.random;
  const credentials = createCredentialResolver({ environment: config.environment });
  const { cache, holder, syncClient } = createPolicyComponents(config, {
    logger,
    clock,
    timers,
    random,
    metrics: policyMetrics,
    transport: deps.transport ?? createGrpcTransport(config),
    credentials,
  });
  await cache.restore((snapshot) => holder.apply(snapshot, 'cache'));
  registerPolicyAgeGauges(metricsRegistry, policyAgeSources(clock, holder, syncClient));
  const records = await startRecordShipping(config, {
    logger,
    clock,
    metricsRegistry,
    ...(deps.recordTransport === undefined ? {} : { transport: deps.recordTransport }),
  });

  const inference = createInferenceParts(config, {
    logger,
    clock,
    timers,
    random,
    tracer: tracing.tracer,
    metricsRegistry,
    credentials,
    activePolicy: () => holder.current(),
    records,
  });
  const readiness = new Readiness({
    clock,
    activePolicy: () => holder.current(),
    controlPlane: () => syncClient.status(),
    outbox: () => records.status(),
    limits: inference.limits,
  });
  const app = buildApp({
    logger,
    clock,
    http: config.http,
    metricsRegistry,
    readiness,
    activePolicy: () => holder.current(),
    inference: inference.routes,
  });
  let url: string;
  try {
    await app.listen({ host: config.host, port: config.port });
    url = formatUrl(app.server.address() as AddressInfo);
  } catch (error: unknown) {
    // What was built is closed, every part even when one fails; the listen error is what start rejects with.
    const steps = new ShutdownSteps(logger);
    await steps.run('http server', () => app.close());
    await steps.run('policy stream', () => syncClient.close());
    await steps.run('record shipping', () => records.close());
    await steps.run('admission, redis and upstream pools', () => inference.close());
    await stopTracing(tracing, logger);
    throw error;
  }
  logger.info({ server: 'public', url }, 'listening');

  syncClient.start();

  const stop = async (): Promise<void> => {
    // Every step runs even when an earlier one failed (ShutdownSteps); the first failure fails the stop.
    const steps = new ShutdownSteps(logger);
    readiness.beginDrain();
    logger.info({ drainDelayMs: config.drainDelayMs }, 'draining');
    await delay(timers, config.drainDelayMs);
    await steps.run('http server', () => app.close());
    // The server's close waited for connections, not for processing: a request whose client left still
    // appends its audit event (e.g. a 401 from the auth hook) or usage record (499), and must do so before
    // the outbox closes.
    const unsettled = await inference.routes.runningRequests.settledWithin(
      timers,
      SHUTDOWN_PROCESSING_WAIT_MS,
    );
    if (unsettled > 0) {
      logger.warn(
        { requests: unsettled },
        'requests still processing at shutdown; closing the outbox anyway',
      );
    }
    await steps.run('policy stream', async () => {
      holder.close();
      await syncClient.close();
    });
    await steps.run('policy cache', () => cache.flush());
    await steps.run('record shipping', () => records.close());
    await steps.run('admission, redis and upstream pools', () => inference.close());
    await stopTracing(tracing, logger);
    steps.finish();
    logger.info('stopped');
  };
  let stopping: Promise<void> | undefined;
  return { url, metricsRegistry, [Symbol.asyncDispose]: () => (stopping ??= stop()) };
}

/**
 * Ends tracing, exporting the spans still buffered. Best effort: a collector that is down or refuses them
 * costs those spans, never the shutdown's success (every record is in the outbox by now), so its failure
 * is a warning, not exit code 1.
 */
async function stopTracing(tracing: AsyncDisposable, logger: Logger): Promise<void> {
  try {
    await tracing[Symbol.asyncDispose]();
  } catch (error: unknown) {
    logger.warn({ err: error }, 'trace export at shutdown failed; the last spans are lost');
  }
}

interface PolicyComponentDeps {
  logger: Logger;
  clock: Clock;
  timers: Timers;
  random: () => number;
  metrics: PolicyMetrics;
  transport: PolicySyncTransport;
  credentials: CredentialResolver;
}

/**
 * The cache, the holder and the (idle) sync client, wired to each other: the client hands snapshots to
 * the holder, the holder reports outcomes through the client, applied snapshots are persisted.
 */
function createPolicyComponents(
  config: DataPlaneConfig,
  deps: PolicyComponentDeps,
): { cache: SnapshotCache; holder: PolicyHolder; syncClient: PolicySyncClient } {
  const { logger, clock, metrics } = deps;
  const cache = new SnapshotCache({ dir: config.cacheDir, logger, clock, metrics });
  // Built before the holder because the holder reports through it; only started once the app listens.
  const syncClient: PolicySyncClient = new PolicySyncClient({
    ...deps,
    identity: { id: config.dataPlaneId, hostname: config.hostname, buildVersion: config.buildVersion },
    settings: config.policySync,
    activeVersion: (): bigint => holder.activeVersion(),
    onSnapshot: async (snapshot): Promise<void> => {
      await holder.apply(snapshot, 'control-plane');
    },
  });
  const holder: PolicyHolder = new PolicyHolder({
    logger,
    clock,
    // Retries a snapshot rejected for an unresolved credential reference (e.g. a secret file mounted later).
    timers: deps.timers,
    metrics,
    // Resolving every secret reference is the credential check: an unresolvable one rejects the snapshot.
    credentialRefs: deps.credentials,
    reporter: syncClient,
    // Also for a snapshot a retry swapped in, which no stream delivered.
    onApplied: (snapshot) => cache.save(snapshot),
  });
  return { cache, holder, syncClient };
}

function policyAgeSources(
  clock: Clock,
  holder: PolicyHolder,
  syncClient: PolicySyncClient,
): PolicyAgeSources {
  return {
    policyAgeSeconds: () => {
      const active = holder.current();
      return active && (clock.now() - active.policy.createdAt.getTime()) / 1000;
    },
    // Before the first contact, the time since the client started: "never synced" must still look stale.
    lastSyncAgeSeconds: () => {
      const { lastSyncAtMs, startedAtMs } = syncClient.status();
      const since = lastSyncAtMs ?? startedAtMs;
      return since === undefined ? undefined : (clock.now() - since) / 1000;
    },
  };
}

interface InferencePartsDeps {
  logger: Logger;
  clock: Clock;
  timers: Timers;
  random: () => number;
  /** Undefined when tracing is off. */
  tracer: Tracer | undefined;
  metricsRegistry: Registry;
  credentials: CredentialResolver;
  activePolicy: () => ActivePolicy | undefined;
  /** Durable audit and usage recorders (the outbox). */
  records: Pick<RecordShipping, 'audit' | 'usage'>;
}

/**
 * The inference API's stateful parts — the Redis client (only with config.redisUrl), the nonce store,
 * admission (limit store on that same Redis client or in process, fair queue, degraded-mode probe), the
 * upstream pools — and its route dependencies. `close()` ends admission (queued waits, background
 * settlements), then closes Redis, then the pools (after the HTTP server, so no request still needs them).
 */
function createInferenceParts(
  config: DataPlaneConfig,
  deps: InferencePartsDeps,
): { routes: InferenceRoutesDeps; limits: () => LimitsReadinessDetail; close: () => Promise<void> } {
  const redis = config.redisUrl === undefined ? undefined : createRedisClient(config.redisUrl, deps.logger);
  const pools = new UpstreamPools({ logger: deps.logger });
  const now = (): number => performance.now();
  const admission = createAdmission(config.limits, { ...deps, redis, now, audit: deps.records.audit });
  const routes = createInferenceRoutesDeps({
    ...deps,
    now,
    pools,
    nonceStore: createNonceStore(config, deps.clock, redis),
    signatureWindowSeconds: config.signatureWindowSeconds,
    maxUpstreamResponseBytes: config.maxUpstreamResponseBytes,
    admission: admission.controller,
  });
  return {
    routes,
    limits: () => admission.readiness(),
    close: async () => {
      await admission.close();
      await closeRedis(redis, deps.logger);
      await pools.close();
    },
  };
}

/**
 * The Redis client of the data plane (nonces, limits). Commands wait at most a second, so a Redis outage
 * refuses signed requests quickly (503, replay protection fails closed) instead of hanging; limit store
 * calls have their own, shorter deadline (config.limits.timeoutMs).
 */
function createRedisClient(url: string, logger: Logger): Redis {
  // Auto-pipelining: commands issued in the same event loop turn (admissions and settlements of concurrent
  // requests) go out in one socket write instead of one write each.
  const redis = new Redis(url, { maxRetriesPerRequest: 1, commandTimeout: 1000, enableAutoPipelining: true });
  // Without a listener an 'error' event would crash the process; ioredis reconnects by itself.
  redis.on('error', (error: unknown) => logger.warn({ err: error }, 'redis error'));
  return redis;
}

async function closeRedis(redis: Redis | undefined, logger: Logger): Promise<void> {
  if (redis === undefined) return;
  try {
    await redis.quit();
  } catch (error: unknown) {
    // Already disconnected or unreachable: nothing is left to flush, drop the connection.
    logger.warn({ err: error }, 'redis quit failed');
    redis.disconnect();
  }
}

function createNonceStore(config: DataPlaneConfig, clock: Clock, redis: Redis | undefined): NonceStore {
  return redis === undefined
    ? createMemoryNonceStore({ clock, maxEntries: config.nonceStoreMaxEntries })
    : createRedisNonceStore({ redis, prefix: 'router:nonce:' });
}

function createGrpcTransport(config: DataPlaneConfig): PolicySyncTransport {
  const sync = config.policySync;
  return createGrpcPolicySyncTransport({
    address: config.controlPlaneAddress,
    keepaliveTimeMs: sync.keepaliveTimeMs,
    keepaliveTimeoutMs: sync.keepaliveTimeoutMs,
    reconnectBackoffMs: { initial: sync.initialBackoffMs, max: sync.maxBackoffMs },
    reportTimeoutMs: sync.reportTimeoutMs,
  });
}

function formatUrl(address: AddressInfo): string {
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}
