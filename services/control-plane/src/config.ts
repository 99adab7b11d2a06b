import { resolve } from 'node:path';
import { DEFAULT_LIMITS_KEY_PREFIX, MAX_BUDGET_CHANGE_RETENTION_MS } from '@api-router/limits';
import {
  DEFAULT_BUDGET_CHANGE_SETTINGS,
  decidableForMs,
  type BudgetChangeSettings,
} from './budget/budget-change-settings.js';
import type { BudgetStoreSettings } from './budget/open-budget-store.js';

/** Where the two config documents come from. */
export type ConfigSourceConfig =
  | { kind: 'file'; routerPath: string; policiesPath: string }
  | { kind: 'etcd'; endpoints: readonly string[]; prefix: string };

/** Typed, validated settings of the control plane. Built from the environment by `loadConfig` only. */
export interface ControlPlaneConfig {
  /** Interface both listeners bind to. */
  host: string;
  /** HTTP/2 cleartext port (gRPC, Connect, gRPC-Web) for data planes; 0 picks a free port. */
  grpcPort: number;
  /** HTTP/1.1 port (Connect, gRPC-Web, /metrics, /healthz, /readyz); 0 picks a free port. */
  httpPort: number;
  configSource: ConfigSourceConfig;
  /** Directory of the persisted last good snapshot and of the embedded audit store (audit.sqlite). */
  stateDir: string;
  /**
   * Postgres URL of the audit store (CP_DATABASE_URL); undefined keeps audit events and usage records in
   * the SQLite file under `stateDir`. May contain a password: never log it.
   */
  databaseUrl: string | undefined;
  /**
   * How long the audit store keeps usage records and audit events (CP_RECORD_RETENTION_DAYS, in days;
   * 0 or unset keeps them for ever). Operators' budget changes are always kept.
   */
  recordRetentionMs?: number | undefined;
  /**
   * The data planes' shared limit store, for budget administration: CP_REDIS_URL (undefined = embedded mode,
   * budget calls answer FAILED_PRECONDITION), CP_LIMITS_KEY_PREFIX (default `router:limits:`, the data
   * planes' default), and the budget change bookkeeping (`changes`: CP_BUDGET_RECONCILE_GRACE_MS,
   * CP_BUDGET_RECONCILE_INTERVAL_MS, CP_BUDGET_RECONCILE_MAX_CHANGES, CP_BUDGET_CHANGE_RETENTION_MS; defaults
   * DEFAULT_BUDGET_CHANGE_SETTINGS). The URL may contain a password: never log it. Omitted = embedded mode.
   */
  budgets?: BudgetStoreSettings;
  /** Time between readiness turning 503 and the listeners closing, in milliseconds. */
  drainDelayMs: number;
  /** Silence after which an empty WatchPolicy response is sent as a heartbeat, in milliseconds. */
  policyHeartbeatMs: number;
  logLevel: string;
  /** OTLP/HTTP traces endpoint; undefined turns tracing off. */
  otlpTracesEndpoint: string | undefined;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * Reads the control plane's settings from the environment (the only reader of `process.env` in this
 * service). Every variable is optional; see README.md for names and defaults. Relative paths are resolved
 * against the working directory.
 *
 * @throws Error listing every invalid variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): ControlPlaneConfig {
  const problems: string[] = [];
  const text = (name: string, fallback: string): string => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? fallback : value;
  };
  const integer = (name: string, fallback: number, max: number, min = 0): number => {
    const raw = text(name, String(fallback));
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
      problems.push(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
      return fallback;
    }
    return value;
  };

  const sourceKind = text('CP_CONFIG_SOURCE', 'file');
  if (sourceKind !== 'file' && sourceKind !== 'etcd') {
    problems.push(`CP_CONFIG_SOURCE must be "file" or "etcd", got "${sourceKind}"`);
  }
  const endpoints = text('CP_ETCD_ENDPOINTS', 'http://127.0.0.1:2379')
    .split(',')
    .map((endpoint) => endpoint.trim())
    .filter((endpoint) => endpoint !== '');
  for (const endpoint of endpoints) {
    if (!/^https?:\/\/[^/]+\/?$/.test(endpoint)) {
      problems.push(`CP_ETCD_ENDPOINTS entries must look like http://host:port, got "${endpoint}"`);
    }
  }
  const prefix = text('CP_ETCD_PREFIX', '/api-router/config/');
  if (!prefix.endsWith('/')) problems.push(`CP_ETCD_PREFIX must end with "/", got "${prefix}"`);
  const databaseUrl = env.CP_DATABASE_URL?.trim() || undefined;
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\/\S+$/.test(databaseUrl)) {
    problems.push('CP_DATABASE_URL must be a postgres:// or postgresql:// URL');
  }
  const redisUrl = env.CP_REDIS_URL?.trim() || undefined;
  if (redisUrl !== undefined && !/^rediss?:\/\/\S+$/.test(redisUrl)) {
    problems.push('CP_REDIS_URL must be a redis:// or rediss:// URL');
  }
  const limitsKeyPrefix = text('CP_LIMITS_KEY_PREFIX', DEFAULT_LIMITS_KEY_PREFIX);
  if (/[{}]/.test(limitsKeyPrefix)) problems.push('CP_LIMITS_KEY_PREFIX must not contain { or }');
  const changes = budgetChangeSettings(integer, problems);
  const retentionDays = integer('CP_RECORD_RETENTION_DAYS', 0, 36_500);
  const logLevel = text('LOG_LEVEL', 'info');
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join('|')}`);

  const config: ControlPlaneConfig = {
    host: text('CP_HOST', '127.0.0.1'),
    grpcPort: integer('CP_GRPC_PORT', 50051, 65535),
    httpPort: integer('CP_HTTP_PORT', 8081, 65535),
    configSource:
      sourceKind === 'etcd'
        ? { kind: 'etcd', endpoints, prefix }
        : {
            kind: 'file',
            routerPath: resolve(text('CP_ROUTER_CONFIG', 'configs/router.sample.yaml')),
            policiesPath: resolve(text('CP_POLICIES_CONFIG', 'configs/policies.sample.yaml')),
          },
    stateDir: resolve(text('CP_STATE_DIR', '.tmp/control-plane')),
    databaseUrl,
    recordRetentionMs: retentionDays === 0 ? undefined : retentionDays * 86_400_000,
    budgets: { redisUrl, limitsKeyPrefix, commandTimeoutMs: 1000, changes },
    drainDelayMs: integer('CP_DRAIN_DELAY_MS', 2000, 600_000),
    // At least 100 ms: a shorter silence would send empty messages on every stream almost without pause.
    policyHeartbeatMs: integer('CP_POLICY_HEARTBEAT_MS', 30_000, 3_600_000, 100),
    logLevel,
    otlpTracesEndpoint: env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || undefined,
  };
  if (problems.length > 0) throw new Error(`invalid control-plane environment: ${problems.join('; ')}`);
  return config;
}

/**
 * The budget change reconciler's pace and the change id retention, from CP_BUDGET_* (defaults
 * DEFAULT_BUDGET_CHANGE_SETTINGS). The grace has a floor of 10 s: it must outlast an admin call between its
 * intent and its outcome (several Redis calls of up to 1 s each, and the audit store), or the reconciler
 * abandons calls still running. Retention must leave changes decidable (half of it) past the grace plus one
 * interval, or the reconciler could only ever record `unknown`.
 */
function budgetChangeSettings(
  integer: (name: string, fallback: number, max: number, min?: number) => number,
  problems: string[],
): BudgetChangeSettings {
  const defaults = DEFAULT_BUDGET_CHANGE_SETTINGS;
  const settings: BudgetChangeSettings = {
    graceMs: integer('CP_BUDGET_RECONCILE_GRACE_MS', defaults.graceMs, 86_400_000, 10_000),
    intervalMs: integer('CP_BUDGET_RECONCILE_INTERVAL_MS', defaults.intervalMs, 3_600_000, 1000),
    maxChangesPerPass: integer('CP_BUDGET_RECONCILE_MAX_CHANGES', defaults.maxChangesPerPass, 10_000, 1),
    changeRetentionMs: integer(
      'CP_BUDGET_CHANGE_RETENTION_MS',
      defaults.changeRetentionMs,
      MAX_BUDGET_CHANGE_RETENTION_MS,
      3_600_000,
    ),
  };
  if (decidableForMs(settings) <= settings.graceMs + settings.intervalMs) {
    problems.push(
      'CP_BUDGET_CHANGE_RETENTION_MS must be more than twice CP_BUDGET_RECONCILE_GRACE_MS + ' +
        'CP_BUDGET_RECONCILE_INTERVAL_MS (changes are decided within half the retention), got ' +
        `${String(settings.changeRetentionMs)} for ${String(settings.graceMs)} + ${String(settings.intervalMs)}`,
    );
  }
  return settings;
}
