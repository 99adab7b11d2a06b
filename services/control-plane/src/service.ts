import { setTimeout as delay } from 'node:timers/promises';
import { Code, ConnectError } from '@connectrpc/connect';
import { createLogger, createMetricsRegistry, type Logger } from '@api-router/observability';
import type { AdminChangeLog } from './audit/admin-change-log.js';
import type { AuditStore } from './audit/audit-store.js';
import { openAuditStore } from './audit/open-audit-store.js';
import { createRecordRetentionMetrics, RecordPruner } from './audit/record-retention.js';
import { BudgetChangeReconciler } from './budget/budget-change-reconciler.js';
import { createBudgetReconcileMetrics } from './budget/budget-reconcile-metrics.js';
import { openBudgetStore, type OpenBudgetStore } from './budget/open-budget-store.js';
import { systemClock, type Clock } from './clock.js';
import type { ControlPlaneConfig } from './config.js';
import type { ConfigSource } from './config-source.js';
import { createConfigSource } from './create-config-source.js';
import { createControlPlaneMetrics } from './control-plane-metrics.js';
import { DataPlaneRegistry } from './data-plane-registry.js';
import { startHttpServers, type HttpServers } from './http-servers.js';
import { createOpsHttpHandler } from './ops-http-handler.js';
import { createRpcHandlers } from './rpc-handlers.js';
import { SnapshotPublisher } from './snapshot-publisher.js';
import { SnapshotStateStore } from './snapshot-state-store.js';

/** A running control plane. Dispose it to shut down gracefully. */
export interface ControlPlane extends AsyncDisposable {
  /** HTTP/2 cleartext listener for data planes (gRPC, Connect, gRPC-Web). */
  readonly grpcUrl: string;
  /** HTTP/1.1 listener (Connect, gRPC-Web, /metrics, /healthz, /readyz). */
  readonly httpUrl: string;
}

export interface ControlPlaneDeps {
  clock?: Clock;
  logger?: Logger;
  /** Replaces the source built from `config.configSource` (tests). */
  configSource?: ConfigSource;
  /** Replaces the audit store opened from `config.databaseUrl` / `config.stateDir` (tests); not closed here. */
  auditStore?: AuditStore & AdminChangeLog;
}

/**
 * Composition root. Start order:
 *  1. logger, clock, metrics registry;
 *  2. state store and publisher — the persisted last good snapshot is published at once;
 *  3. audit store (SQLite in the state dir, or Postgres): created or migrated, else start-up fails; the
 *     shared limit store for budget administration (only with CP_REDIS_URL; connects in the background)
 *     and, with it, the budget change reconciler (a first pass at once, then periodic); with
 *     CP_RECORD_RETENTION_DAYS the record pruner (a first pass at once, then hourly);
 *  4. data-plane registry, RPC routes, the two listeners (data planes may connect from here on);
 *  5. config source, waiting for its first outcome. Start-up fails if, after it, there is still no snapshot
 *     (no persisted state and the config is missing or invalid): fix the config rather than run empty.
 * Dispose closes in reverse: readiness → 503, drain delay, end policy streams and close listeners, stop the
 * config source, stop the budget change reconciler and the record pruner (waiting for a running pass),
 * close the audit store (after the listeners: no ingest call is still running), close the limit store's
 * Redis client, flush the state store.
 *
 * @throws Error when a listener cannot bind, the audit store cannot be opened or no valid config is
 *   available at start.
 */
export async function startControlPlane(
  config: ControlPlaneConfig,
  deps: ControlPlaneDeps = {},
): Promise<ControlPlane> {
  const logger = deps.logger ?? createLogger({ service: 'control-plane', level: config.logLevel });
  const clock = deps.clock ?? systemClock;
  const metricsRegistry = createMetricsRegistry({ defaultLabels: { service: 'control-plane' } });

  const store = new SnapshotStateStore({ directory: config.stateDir, logger });
  const registry = new DataPlaneRegistry({ clock });
  const metrics = createControlPlaneMetrics({
    registry: metricsRegistry,
    countDataPlanes: () => registry.counts(),
  });
  const publisher = new SnapshotPublisher({ clock, logger, metrics, store });
  metrics.publishedVersion.set(0);
  const persisted = await store.load();
  if (persisted !== undefined) publisher.restore(persisted);
  const auditStore = deps.auditStore ?? (await openAuditStore({ ...config, logger }));
  // A store passed in belongs to the caller.
  const ownedAuditStore = deps.auditStore === undefined ? auditStore : undefined;
  const budgets = openBudgetStore(config.budgets, logger);
  const reconcileMetrics = createBudgetReconcileMetrics(metricsRegistry);
  const reconciler =
    budgets.store === undefined
      ? undefined
      : new BudgetChangeReconciler({
          changeLog: auditStore,
          store: budgets.store,
          clock,
          logger,
          metrics: reconcileMetrics,
          settings: budgets.changeSettings,
        });
  reconciler?.start();
  const pruner =
    config.recordRetentionMs === undefined
      ? undefined
      : new RecordPruner({
          store: auditStore,
          clock,
          logger,
          metrics: createRecordRetentionMetrics(metricsRegistry),
          retentionMs: config.recordRetentionMs,
        });
  pruner?.start();

  let draining = false;
  const shutdown = new AbortController();
  const handlers = createRpcHandlers({
    policySync: {
      snapshots: publisher,
      registry,
      metrics,
      logger,
      heartbeatIntervalMs: config.policyHeartbeatMs,
    },
    recordIngest: { store: auditStore, clock, metrics, logger },
    admin: {
      publisher,
      registry,
      auditStore,
      logger,
      tokens: () => publisher.adminTokens(),
      budgets: {
        store: budgets.store,
        policy: () => publisher.current(),
        changeLog: auditStore,
        clock,
        logger,
        settings: budgets.changeSettings,
      },
    },
    shutdownSignal: shutdown.signal,
    httpFallback: createOpsHttpHandler({
      metricsRegistry,
      logger,
      readiness: () => {
        const version = publisher.current()?.version;
        const ready = !draining && version !== undefined;
        const reason = draining
          ? 'shutting down'
          : version === undefined
            ? 'no policy snapshot yet'
            : undefined;
        return { ready, detail: { version: version?.toString(), reason } };
      },
    }),
    logger,
  });
  let servers: HttpServers;
  try {
    servers = await startHttpServers({ ...config, ...handlers, logger });
  } catch (error: unknown) {
    await reconciler?.close();
    await pruner?.close();
    await ownedAuditStore?.close();
    await budgets.close();
    throw error;
  }

  const source = deps.configSource ?? createConfigSource(config.configSource, logger);
  await startSource(source, publisher);

  /** Everything this function started, in the order it is stopped (see closeAll). */
  const started: Closeables = {
    shutdown,
    publisher,
    servers,
    source,
    store,
    reconciler,
    pruner,
    auditStore: ownedAuditStore,
    budgets,
  };
  let disposed: Promise<void> | undefined;
  const dispose = async (): Promise<void> => {
    draining = true;
    logger.info({ drainDelayMs: config.drainDelayMs }, 'shutting down');
    await delay(config.drainDelayMs);
    await closeAll(started);
    logger.info('stopped');
  };
  const controlPlane: ControlPlane = {
    grpcUrl: servers.grpcUrl,
    httpUrl: servers.httpUrl,
    [Symbol.asyncDispose]: () => (disposed ??= dispose()),
  };
  if (publisher.current() === undefined) {
    const error = publisher.status().lastError;
    await closeAll(started);
    throw new Error(
      `no valid config and no persisted snapshot: ${error ? `${error.source}: ${error.message}` : 'unknown'}`,
    );
  }
  return controlPlane;
}

/** Starts the source and resolves after its first outcome (documents delivered or a failure). */
function startSource(source: ConfigSource, publisher: SnapshotPublisher): Promise<void> {
  return new Promise((resolve) => {
    source.start({
      onDocuments: (documents, revision) => {
        publisher.accept(documents, revision);
        resolve();
      },
      onError: (error) => {
        publisher.reportSourceError(error);
        resolve();
      },
    });
  });
}

interface Closeables {
  shutdown: AbortController;
  publisher: SnapshotPublisher;
  servers: HttpServers;
  source: ConfigSource;
  store: SnapshotStateStore;
  reconciler: BudgetChangeReconciler | undefined;
  pruner: RecordPruner | undefined;
  auditStore: AuditStore | undefined;
  budgets: OpenBudgetStore;
}

async function closeAll(parts: Closeables): Promise<void> {
  // Ends every WatchPolicy stream with UNAVAILABLE so that data planes reconnect (to another replica).
  parts.shutdown.abort(new ConnectError('control plane is shutting down', Code.Unavailable));
  parts.publisher.close();
  await parts.servers.close();
  await parts.source.close();
  await parts.reconciler?.close();
  await parts.pruner?.close();
  await parts.auditStore?.close();
  await parts.budgets.close();
  await parts.store.flush();
}
