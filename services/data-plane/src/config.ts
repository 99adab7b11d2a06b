import { hostname } from 'node:os';

/** Backoff and keepalive of the policy stream to the control plane. All durations in milliseconds. */
export interface PolicySyncSettings {
  /** First reconnect delay ceiling; the actual delay is uniformly random in [0, ceiling] (full jitter). */
  initialBackoffMs: number;
  /** Largest reconnect delay ceiling. */
  maxBackoffMs: number;
  /** A stream that stayed ready this long resets the backoff to its initial value when it ends. */
  healthyResetMs: number;
  /** gRPC keepalive ping interval on the channel. */
  keepaliveTimeMs: number;
  /** How long an unanswered keepalive ping is tolerated before the connection is considered dead. */
  keepaliveTimeoutMs: number;
  /** Deadline of one ReportPolicyStatus call. */
  reportTimeoutMs: number;
}

/**
 * Limits of the public HTTP server (the body ceiling from DP_MAX_BODY_BYTES, the receive deadline from
 * DP_REQUEST_TIMEOUT_MS, the rest fixed); durations in ms.
 */
export interface HttpSettings {
  /**
   * Idle socket timeout; long enough for slow streamed completions between chunks. A request whose deadline
   * is longer raises its socket's (http/socket-idle-timeout.ts).
   */
  connectionTimeoutMs: number;
  /** How long an idle keep-alive connection stays open; above common load-balancer idle timeouts. */
  keepAliveTimeoutMs: number;
  /**
   * Deadline to receive a whole request, headers and body, not to answer it (DP_REQUEST_TIMEOUT_MS, default
   * 30 s; past it Node answers 408 and closes the connection). Bounds slow senders (slowloris); a large
   * body ceiling for slow clients needs a longer one.
   */
  requestTimeoutMs: number;
  /**
   * Hard ceiling of a request body in bytes (DP_MAX_BODY_BYTES, default 4 MiB). The active policy's
   * `maxBodyBytes` is enforced per request by the inference routes, capped by this ceiling, which bounds
   * what one request can make the process buffer whatever the policy says.
   */
  bodyLimitBytes: number;
}

/**
 * Longest DP_LIMITS_TIMEOUT_MS accepted. A settlement is one store call retried three times (after 100 ms,
 * 500 ms and 2 s), so it can take 4 × the timeout + 2.6 s, and it must end inside the policy's
 * RESERVATION_SETTLEMENT_MARGIN_MS (10 s) after the request's deadline, or the reservation may expire
 * first: another request takes the freed room and the settlement charges anyway (the budget overshoots).
 * 1 s leaves 6.6 s for the settlement and 3.4 s for clock skew between the data plane and Redis; a longer
 * timeout would also break the promise that no request hangs long on a dead Redis.
 */
export const MAX_LIMITS_TIMEOUT_MS = 1000;

/** Admission: the limit store's deadlines and the fair queue's bound. */
export interface LimitsSettings {
  /**
   * Deadline of every limit store call (Redis) and of the recovery probe (a write), in ms
   * (DP_LIMITS_TIMEOUT_MS, default 250, at most {@link MAX_LIMITS_TIMEOUT_MS}). Past it the store counts as
   * unavailable and the store-failure policy applies.
   */
  timeoutMs: number;
  /** Time between recovery probes (a write) while the store is unavailable, ms (DP_LIMITS_PROBE_INTERVAL_MS, default 1000). */
  probeIntervalMs: number;
  /** Most requests waiting in this replica's fair queue, all tenants together (DP_QUEUE_MAX_LENGTH, default 10000). */
  queueMaxLength: number;
}

/** Where usage records and audit events go: the durable outbox and its transport. */
export interface RecordsSettings {
  /** Outbox directory (DP_OUTBOX_DIR); undefined = `<cacheDir>/outbox` (default .tmp/data-plane/outbox). One process per directory. */
  outboxDir: string | undefined;
  /** Most bytes the outbox may hold on disk (DP_OUTBOX_MAX_BYTES, default 1 GiB); beyond it requests fail 503. */
  outboxMaxBytes: number;
  /** How long shutdown waits for the shipper to deliver the backlog, ms (DP_OUTBOX_FLUSH_TIMEOUT_MS, default 5000). */
  flushTimeoutMs: number;
  /**
   * When a record counts as written before the response (DP_OUTBOX_SYNC): `interval` (default) = in the
   * kernel (survives kill -9), fdatasynced in the background every `outboxSyncIntervalMs`; `batch` =
   * fdatasynced first (also survives an OS crash or power loss). docs/adr/0005-outbox-durability-window.md.
   */
  outboxSync: 'interval' | 'batch';
  /** Most time between background fdatasyncs in the interval mode, ms (DP_OUTBOX_SYNC_INTERVAL_MS, default 10, 1…1000). */
  outboxSyncIntervalMs: number;
  /**
   * Kafka transport (DP_KAFKA_BROKERS, comma-separated host:port); undefined = ship to the control plane over
   * gRPC (RecordIngestService at controlPlaneAddress).
   */
  kafka: KafkaRecordsSettings | undefined;
}

export interface KafkaRecordsSettings {
  brokers: readonly string[];
  /** Topic of usage records (DP_KAFKA_USAGE_TOPIC, default router.usage.v1). */
  usageTopic: string;
  /** Topic of audit events (DP_KAFKA_AUDIT_TOPIC, default router.audit.v1). */
  auditTopic: string;
}

/** Everything the data plane reads from its environment, parsed and typed once at start. */
export interface DataPlaneConfig {
  /** Interface of the public HTTP server (DP_HOST, default 127.0.0.1). */
  host: string;
  /** Port of the public HTTP server; 0 = any free port (DP_PORT, default 8080). */
  port: number;
  /** host:port of the control plane's gRPC listener (DP_CONTROL_PLANE_ADDRESS, default 127.0.0.1:50051). */
  controlPlaneAddress: string;
  /** Directory of the last-good policy snapshot file (DP_CACHE_DIR, default .tmp/data-plane). */
  cacheDir: string;
  /** Identity reported to the control plane (DP_ID, default `<hostname>-<pid>`). */
  dataPlaneId: string;
  hostname: string;
  /** Version string reported to the control plane. */
  buildVersion: string;
  /** Time between readiness turning 503 and the HTTP server closing (DP_DRAIN_DELAY_MS, default 5000). */
  drainDelayMs: number;
  /** pino level (LOG_LEVEL, default info). */
  logLevel: string;
  /** OTLP/HTTP traces endpoint (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT); undefined = tracing off. */
  otlpTracesEndpoint: string | undefined;
  policySync: PolicySyncSettings;
  http: HttpSettings;
  /**
   * Redis for state shared by all replicas (signature nonces, limits, budgets), e.g. redis://127.0.0.1:6379/0
   * (DP_REDIS_URL); undefined = in-process state, correct for a single replica only.
   */
  redisUrl: string | undefined;
  /** Accepted distance of a signature's `created` from now, both ways, in seconds (DP_SIGNATURE_WINDOW_SECONDS, default 300). */
  signatureWindowSeconds: number;
  /**
   * Largest JSON upstream response, or single stream event, relayed, in bytes; larger → 502
   * (DP_MAX_UPSTREAM_RESPONSE_BYTES, default 8 MiB). A stream's length is not capped.
   */
  maxUpstreamResponseBytes: number;
  /**
   * Most nonces the in-process nonce store holds (DP_NONCE_MAX_ENTRIES, default 200 000); each is held for
   * twice the signature window plus a second, so it sustains max / (2 × window + 1) signed requests per
   * second (333/s at the defaults) before refusing them with 503. Unused with DP_REDIS_URL.
   */
  nonceStoreMaxEntries: number;
  records: RecordsSettings;
  limits: LimitsSettings;
  /**
   * Copy of the process environment taken at start, used to resolve `env:NAME` credential references of
   * backends, so that no other module reads process.env. A Map so that it never serialises into a log line.
   */
  environment: ReadonlyMap<string, string>;
}

export const DEFAULT_POLICY_SYNC_SETTINGS: PolicySyncSettings = {
  initialBackoffMs: 250,
  maxBackoffMs: 30_000,
  healthyResetMs: 60_000,
  keepaliveTimeMs: 30_000,
  keepaliveTimeoutMs: 10_000,
  reportTimeoutMs: 5_000,
};

export const DEFAULT_HTTP_SETTINGS: HttpSettings = {
  connectionTimeoutMs: 300_000,
  keepAliveTimeoutMs: 72_000,
  requestTimeoutMs: 30_000,
  bodyLimitBytes: 4 * 1024 * 1024,
};

/**
 * Parses the data plane's configuration from environment variables. The only reader of process.env in the
 * service. Throws an Error naming the variable when a value is malformed (e.g. DP_PORT=abc).
 */
export function loadDataPlaneConfig(env: NodeJS.ProcessEnv = process.env): DataPlaneConfig {
  const host = hostname();
  const environment = new Map<string, string>();
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined) environment.set(name, value);
  }
  return {
    host: nonEmpty(env, 'DP_HOST') ?? '127.0.0.1',
    port: integer(env, 'DP_PORT', 8080, 0, 65_535),
    controlPlaneAddress: nonEmpty(env, 'DP_CONTROL_PLANE_ADDRESS') ?? '127.0.0.1:50051',
    cacheDir: nonEmpty(env, 'DP_CACHE_DIR') ?? '.tmp/data-plane',
    dataPlaneId: nonEmpty(env, 'DP_ID') ?? `${host}-${process.pid}`,
    hostname: host,
    buildVersion: nonEmpty(env, 'npm_package_version') ?? '0.1.0',
    drainDelayMs: integer(env, 'DP_DRAIN_DELAY_MS', 5000, 0, 600_000),
    logLevel: nonEmpty(env, 'LOG_LEVEL') ?? 'info',
    otlpTracesEndpoint: nonEmpty(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'),
    policySync: { ...DEFAULT_POLICY_SYNC_SETTINGS },
    http: {
      ...DEFAULT_HTTP_SETTINGS,
      requestTimeoutMs: integer(
        env,
        'DP_REQUEST_TIMEOUT_MS',
        DEFAULT_HTTP_SETTINGS.requestTimeoutMs,
        1000,
        3_600_000,
      ),
      bodyLimitBytes: integer(
        env,
        'DP_MAX_BODY_BYTES',
        DEFAULT_HTTP_SETTINGS.bodyLimitBytes,
        1024,
        1024 ** 3,
      ),
    },
    redisUrl: nonEmpty(env, 'DP_REDIS_URL'),
    signatureWindowSeconds: integer(env, 'DP_SIGNATURE_WINDOW_SECONDS', 300, 1, 3600),
    maxUpstreamResponseBytes: integer(
      env,
      'DP_MAX_UPSTREAM_RESPONSE_BYTES',
      8 * 1024 * 1024,
      1024,
      1024 ** 3,
    ),
    nonceStoreMaxEntries: integer(env, 'DP_NONCE_MAX_ENTRIES', 200_000, 1, 100_000_000),
    records: loadRecordsSettings(env),
    limits: {
      timeoutMs: integer(env, 'DP_LIMITS_TIMEOUT_MS', 250, 1, MAX_LIMITS_TIMEOUT_MS),
      probeIntervalMs: integer(env, 'DP_LIMITS_PROBE_INTERVAL_MS', 1000, 10, 600_000),
      queueMaxLength: integer(env, 'DP_QUEUE_MAX_LENGTH', 10_000, 0, 1_000_000),
    },
    environment,
  };
}

function loadRecordsSettings(env: NodeJS.ProcessEnv): RecordsSettings {
  const brokers = (nonEmpty(env, 'DP_KAFKA_BROKERS') ?? '')
    .split(',')
    .map((broker) => broker.trim())
    .filter((broker) => broker !== '');
  for (const broker of brokers) {
    if (!/^[^\s:/]+:\d{1,5}$/.test(broker)) {
      throw new Error(`DP_KAFKA_BROKERS entries must look like host:port, got "${broker}"`);
    }
  }
  return {
    outboxDir: nonEmpty(env, 'DP_OUTBOX_DIR'),
    outboxMaxBytes: integer(env, 'DP_OUTBOX_MAX_BYTES', 1024 ** 3, 1024 * 1024, 1024 ** 4),
    flushTimeoutMs: integer(env, 'DP_OUTBOX_FLUSH_TIMEOUT_MS', 5000, 0, 600_000),
    outboxSync: oneOf(env, 'DP_OUTBOX_SYNC', ['interval', 'batch'] as const),
    outboxSyncIntervalMs: integer(env, 'DP_OUTBOX_SYNC_INTERVAL_MS', 10, 1, 1000),
    kafka:
      brokers.length === 0
        ? undefined
        : {
            brokers,
            usageTopic: nonEmpty(env, 'DP_KAFKA_USAGE_TOPIC') ?? 'router.usage.v1',
            auditTopic: nonEmpty(env, 'DP_KAFKA_AUDIT_TOPIC') ?? 'router.audit.v1',
          },
  };
}

function nonEmpty(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

/** The variable's value if it is one of `values` (the first is the default when unset); throws naming it otherwise. */
function oneOf<T extends string>(env: NodeJS.ProcessEnv, name: string, values: readonly [T, ...T[]]): T {
  const raw = nonEmpty(env, name);
  if (raw === undefined) return values[0];
  const value = values.find((candidate) => candidate === raw);
  if (value === undefined) throw new Error(`${name} must be one of ${values.join(', ')}, got "${raw}"`);
  return value;
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = nonEmpty(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
  }
  return value;
}
