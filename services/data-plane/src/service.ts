import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { createLogger, createMetricsRegistry, createTracing, type Logger } from '@api-router/observability';
import { systemClock, type Clock } from './clock.js';
import type { DataPlaneConfig } from './config.js';
import { buildApp } from './http/app.js';
import { Readiness } from './http/readiness.js';
import {
  createPolicyMetrics,
  registerPolicyAgeGauges,
  type PolicyAgeSources,
  type PolicyMetrics,
} from './metrics/policy-metrics.js';
import { createCredentialRefChecker } from './policy/credential-ref-checker.js';
import { createGrpcPolicySyncTransport } from './policy/grpc-policy-sync-transport.js';
import { PolicyHolder } from './policy/policy-holder.js';
import { PolicySyncClient } from './policy/policy-sync-client.js';
import type { PolicySyncTransport } from './policy/policy-sync-transport.js';
import { SnapshotCache } from './policy/snapshot-cache.js';
import { delay, systemTimers, type Timers } from './timers.js';

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
}

/**
 * Starts the data plane. Start order:
 *   1. logger, metrics registry, tracing
 *   2. snapshot cache
 *   3. policy holder, loaded from the cache (a missing or corrupt cache only means "not ready yet")
 *   4. fastify app, listening (answers 503 not_ready until a policy is active)
 *   5. policy sync client started (connects to the control plane, reconnects forever)
 * Shutdown ([Symbol.asyncDispose]), in order:
 *   readiness → 503; wait config.drainDelayMs so load balancers notice; close the HTTP server (in-flight
 *   requests finish); close the policy stream; wait for pending cache writes; (later: flush the usage
 *   outbox, close Redis, close upstream pools); stop tracing.
 * Rejects when the HTTP server cannot listen; the control plane being unreachable is never a start failure.
 */
export async function startDataPlane(config: DataPlaneConfig, deps: DataPlaneDeps = {}): Promise<DataPlane> {
  const logger = deps.logger ?? createLogger({ service: 'data-plane', level: config.logLevel });
  const clock = deps.clock ?? systemClock;
  const timers = deps.timers ?? systemTimers;
  const metricsRegistry = createMetricsRegistry({ defaultLabels: { service: 'data-plane' } });
  const policyMetrics = createPolicyMetrics(metricsRegistry);
  const tracing = createTracing({ serviceName: 'data-plane', otlpEndpoint: config.otlpTracesEndpoint });

  const { cache, holder, syncClient } = createPolicyComponents(config, {
    logger,
    clock,
    timers,
    random: deps.random ?? Math.random,
    metrics: policyMetrics,
    transport: deps.transport ?? createGrpcTransport(config),
  });
  await cache.restore((snapshot) => holder.apply(snapshot, 'cache'));
  registerPolicyAgeGauges(metricsRegistry, policyAgeSources(clock, holder, syncClient));

  const readiness = new Readiness({
    clock,
    activePolicy: () => holder.current(),
    controlPlane: () => syncClient.status(),
  });
  const app = buildApp({
    logger,
    clock,
    http: config.http,
    metricsRegistry,
    readiness,
    activePolicy: () => holder.current(),
  });
  let url: string;
  try {
    await app.listen({ host: config.host, port: config.port });
    url = formatUrl(app.server.address() as AddressInfo);
  } catch (error: unknown) {
    await app.close();
    await syncClient.close();
    await tracing[Symbol.asyncDispose]();
    throw error;
  }
  logger.info({ server: 'public', url }, 'listening');

  syncClient.start();

  const stop = async (): Promise<void> => {
    readiness.beginDrain();
    logger.info({ drainDelayMs: config.drainDelayMs }, 'draining');
    await delay(timers, config.drainDelayMs);
    await app.close();
    await syncClient.close();
    await cache.flush();
    // Later tasks: flush the usage outbox, close Redis, close upstream pools — here, in this order.
    await tracing[Symbol.asyncDispose]();
    logger.info('stopped');
  };
  let stopping: Promise<void> | undefined;
  return { url, metricsRegistry, [Symbol.asyncDispose]: () => (stopping ??= stop()) };
}

interface PolicyComponentDeps {
  logger: Logger;
  clock: Clock;
  timers: Timers;
  random: () => number;
  metrics: PolicyMetrics;
  transport: PolicySyncTransport;
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
      const result = await holder.apply(snapshot, 'control-plane');
      if (result.outcome === 'applied') await cache.save(snapshot);
    },
  });
  const holder: PolicyHolder = new PolicyHolder({
    logger,
    clock,
    metrics,
    credentialRefs: createCredentialRefChecker({ environment: config.environment }),
    reporter: syncClient,
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
