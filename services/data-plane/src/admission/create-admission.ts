import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import { createMemoryLimitStore, createRedisLimitStore, DEFAULT_LIMITS_KEY_PREFIX } from '@api-router/limits';
import type { Logger } from '@api-router/observability';
import type { Clock } from '../clock.js';
import type { LimitsSettings } from '../config.js';
import { createAdmissionMetrics } from '../metrics/admission-metrics.js';
import type { AuditRecorder } from '../records/audit-recorder.js';
import type { Timers } from '../timers.js';
import {
  createAdmissionController,
  type AdmissionController,
  type StoreDecision,
} from './admission-controller.js';
import { FairQueue } from './fair-queue.js';
import { LimitStoreHealth, type LimitsReadinessDetail } from './limit-store-health.js';
import { probeLimitStore } from './limit-store-probe.js';

/** A queued request is retried after a uniformly random delay in this range (ms), for slots freed elsewhere. */
export const QUEUE_RETRY_INTERVAL_MS = { min: 50, max: 100 } as const;

export interface AdmissionPartsDeps {
  /** The data plane's one Redis client (shared with the nonce store); undefined = in-process limits. */
  readonly redis: Redis | undefined;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly random: () => number;
  /** Monotonic milliseconds. */
  readonly now: () => number;
  readonly logger: Logger;
  readonly metricsRegistry: Registry;
  readonly audit: AuditRecorder;
}

export interface AdmissionParts {
  readonly controller: AdmissionController;
  /** The `limits` field of the readiness detail. */
  readiness(): LimitsReadinessDetail;
  /** Ends queued waits, waits for background settlements, stops the probe. Before Redis closes. */
  close(): Promise<void>;
}

/**
 * Builds admission: the limit store (Redis, with every call bounded by `settings.timeoutMs`, when the data
 * plane has a Redis client; else the in-process store, correct for one replica), a per-replica memory store
 * for the local share while Redis is unreachable, the degraded-mode tracker (probing Redis with a write:
 * limit-store-probe.ts), the fair queue and the metrics.
 */
export function createAdmission(settings: LimitsSettings, deps: AdmissionPartsDeps): AdmissionParts {
  const { redis, clock, timers } = deps;
  const store =
    redis === undefined
      ? createMemoryLimitStore({ clock })
      : createRedisLimitStore({
          redis,
          keyPrefix: DEFAULT_LIMITS_KEY_PREFIX,
          commandTimeoutMs: settings.timeoutMs,
        });
  const queue = new FairQueue<StoreDecision>({
    timers,
    now: deps.now,
    random: deps.random,
    retryIntervalMs: QUEUE_RETRY_INTERVAL_MS,
    maxLength: settings.queueMaxLength,
  });
  const metrics = createAdmissionMetrics(deps.metricsRegistry, () => queue.length);
  const health = new LimitStoreHealth({
    kind: redis === undefined ? 'memory' : 'redis',
    clock,
    timers,
    logger: deps.logger,
    probe: () =>
      redis === undefined ? Promise.resolve() : probeLimitStore(redis, timers, settings.timeoutMs),
    probeIntervalMs: settings.probeIntervalMs,
    onChange: (degraded) => metrics.degraded.set(degraded ? 1 : 0),
  });
  const controller = createAdmissionController({
    store,
    localStore: createMemoryLimitStore({ clock }),
    health,
    queue,
    metrics,
    audit: deps.audit,
    timers,
    now: deps.now,
    randomId: createAdmissionIdSuffixes(),
    logger: deps.logger,
  });
  return { controller, readiness: () => health.detail(), close: () => controller.close() };
}

/**
 * Admission id suffixes unique across replicas and restarts without a CSPRNG draw per request: 72 random
 * bits drawn once per process, then a counter (`<random>.<counter in base 36>`).
 */
export function createAdmissionIdSuffixes(): () => string {
  const processPart = randomBytes(9).toString('base64url');
  let counter = 0;
  return () => {
    counter += 1;
    return `${processPart}.${counter.toString(36)}`;
  };
}
