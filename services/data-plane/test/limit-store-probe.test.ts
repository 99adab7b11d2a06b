import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, createMetricsRegistry } from '@api-router/observability';
import { startRedis, waitFor, type ServiceHandle } from '@api-router/testing';
import { systemClock } from '../src/clock.js';
import { systemTimers, type Timers } from '../src/timers.js';
import { input } from '../src/admission/admission-controller.test-support.js';
import { createAdmission, type AdmissionParts } from '../src/admission/create-admission.js';
import { LIMIT_KEYS } from '../src/admission/limits-policy.test-support.js';

// Degraded mode against a real Redis that answers PING but holds or refuses every write — and the limit
// store's scripts are writes: `maxmemory` reached with `noeviction` (OOM replies), and `CLIENT PAUSE …
// WRITE` (what a failover does; there a PING on the store's own connection waits behind the held scripts
// too). The recovery probe must fail there like the scripts do: a probe that succeeds ends degraded mode at
// once, every admission goes to Redis again and fails, and degraded mode flaps for as long as the cause
// lasts. A private redis-server: pausing or filling the shared one would disturb other tests.

const PROBE_INTERVAL_MS = 60_000;
let redisService: ServiceHandle;
let runDir: string;
let admin: Redis;

beforeAll(async () => {
  runDir = await mkdtemp(join(tmpdir(), 'limit-store-probe-'));
  redisService = await startRedis({ runDir });
  admin = new Redis(redisService.url, { maxRetriesPerRequest: 1 });
});

afterAll(async () => {
  admin.disconnect();
  await redisService.stop();
  await rm(runDir, { recursive: true, force: true });
});

/**
 * Admission on its own Redis client, with timers that report when the probe scheduled its next run (the
 * first probe ended and the store is still degraded).
 */
function startAdmission(): { admission: AdmissionParts; client: Redis; reprobes: () => number } {
  const client = new Redis(redisService.url, { maxRetriesPerRequest: 1 });
  let reprobes = 0;
  const timers: Timers = {
    setTimeout: (callback, delayMs) => {
      if (delayMs === PROBE_INTERVAL_MS) reprobes += 1;
      return systemTimers.setTimeout(callback, delayMs);
    },
    clearTimeout: (handle) => systemTimers.clearTimeout(handle),
  };
  const admission = createAdmission(
    { timeoutMs: 200, probeIntervalMs: PROBE_INTERVAL_MS, queueMaxLength: 10 },
    {
      redis: client,
      clock: systemClock,
      timers,
      random: Math.random,
      now: () => performance.now(),
      logger: createLogger({ service: 'test', level: 'silent' }),
      metricsRegistry: createMetricsRegistry({ defaultLabels: {} }),
      audit: { record: () => Promise.resolve() },
    },
  );
  return { admission, client, reprobes: () => reprobes };
}

/** Admits one fail-open request (served by the local share while degraded) and waits for the first probe. */
async function degradeAndProbe(parts: ReturnType<typeof startAdmission>): Promise<void> {
  const admitted = await parts.admission.controller.admit(
    input(LIMIT_KEYS.open, { requestId: 'probe-test' }),
  );
  admitted.finish({ responded: false });
  expect(parts.admission.readiness()).toMatchObject({ store: 'redis', degraded: true });
  // The first probe runs at once; it either ended degraded mode or scheduled the next one.
  await waitFor('the first recovery probe to end', () =>
    !parts.admission.readiness().degraded || parts.reprobes() > 0 ? true : undefined,
  );
}

describe('the recovery probe of the shared limit store', () => {
  it('keeps degraded mode while Redis holds writes (CLIENT PAUSE WRITE)', async () => {
    const parts = startAdmission();
    await admin.call('CLIENT', 'PAUSE', '30000', 'WRITE');
    try {
      await degradeAndProbe(parts);
      expect(parts.admission.readiness().degraded).toBe(true);
    } finally {
      await admin.call('CLIENT', 'UNPAUSE');
    }
    await parts.admission.close();
    parts.client.disconnect();
  });

  it('keeps degraded mode while Redis refuses writes but answers PING (maxmemory with noeviction)', async () => {
    const parts = startAdmission();
    await admin.call('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
    await admin.call('CONFIG', 'SET', 'maxmemory', '1');
    try {
      await degradeAndProbe(parts);
      expect(parts.admission.readiness().degraded).toBe(true);
    } finally {
      await admin.call('CONFIG', 'SET', 'maxmemory', '0');
    }
    await parts.admission.close();
    parts.client.disconnect();
  });
});
