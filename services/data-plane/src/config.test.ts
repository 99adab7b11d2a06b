import { describe, expect, it } from 'vitest';
import { RESERVATION_SETTLEMENT_MARGIN_MS } from '@api-router/policy';
import { DEFAULT_SETTLE_RETRY_DELAYS_MS } from './admission/admission-controller.js';
import {
  DEFAULT_HTTP_SETTINGS,
  DEFAULT_POLICY_SYNC_SETTINGS,
  MAX_LIMITS_TIMEOUT_MS,
  loadDataPlaneConfig,
} from './config.js';

describe('loadDataPlaneConfig', () => {
  it('uses the agreed defaults for an empty environment', () => {
    const config = loadDataPlaneConfig({});
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 8080,
      controlPlaneAddress: '127.0.0.1:50051',
      cacheDir: '.tmp/data-plane',
      drainDelayMs: 5000,
      logLevel: 'info',
      otlpTracesEndpoint: undefined,
      policySync: DEFAULT_POLICY_SYNC_SETTINGS,
      http: DEFAULT_HTTP_SETTINGS,
      redisUrl: undefined,
      signatureWindowSeconds: 300,
      maxUpstreamResponseBytes: 8 * 1024 * 1024,
      nonceStoreMaxEntries: 200_000,
    });
    expect(config.dataPlaneId).toBe(`${config.hostname}-${process.pid}`);
  });

  it('reads every DP_* variable', () => {
    const config = loadDataPlaneConfig({
      DP_HOST: '0.0.0.0',
      DP_PORT: '0',
      DP_CONTROL_PLANE_ADDRESS: 'cp:50051',
      DP_CACHE_DIR: '/var/cache/dp',
      DP_ID: 'dp-7',
      DP_DRAIN_DELAY_MS: '0',
      LOG_LEVEL: 'debug',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces',
      DP_REDIS_URL: 'redis://127.0.0.1:6379/0',
      DP_SIGNATURE_WINDOW_SECONDS: '60',
      DP_MAX_UPSTREAM_RESPONSE_BYTES: '65536',
      DP_NONCE_MAX_ENTRIES: '1000000',
      DP_MAX_BODY_BYTES: '33554432',
      DP_REQUEST_TIMEOUT_MS: '120000',
    });
    expect(config).toMatchObject({
      redisUrl: 'redis://127.0.0.1:6379/0',
      signatureWindowSeconds: 60,
      maxUpstreamResponseBytes: 65_536,
      nonceStoreMaxEntries: 1_000_000,
      http: { ...DEFAULT_HTTP_SETTINGS, bodyLimitBytes: 32 * 1024 * 1024, requestTimeoutMs: 120_000 },
      host: '0.0.0.0',
      port: 0,
      controlPlaneAddress: 'cp:50051',
      cacheDir: '/var/cache/dp',
      dataPlaneId: 'dp-7',
      drainDelayMs: 0,
      logLevel: 'debug',
      otlpTracesEndpoint: 'http://collector:4318/v1/traces',
    });
  });

  it.each([['abc'], ['-1'], ['70000'], ['1.5']])('rejects DP_PORT=%s naming the variable', (value) => {
    expect(() => loadDataPlaneConfig({ DP_PORT: value })).toThrow(/DP_PORT must be an integer/);
  });

  it('ships records to the control plane from <cache dir>/outbox by default', () => {
    expect(loadDataPlaneConfig({}).records).toEqual({
      outboxDir: undefined,
      outboxMaxBytes: 1024 ** 3,
      flushTimeoutMs: 5000,
      outboxSync: 'interval',
      outboxSyncIntervalMs: 10,
      kafka: undefined,
    });
  });

  it('reads the outbox and Kafka settings', () => {
    const config = loadDataPlaneConfig({
      DP_OUTBOX_DIR: '/var/lib/dp/outbox',
      DP_OUTBOX_MAX_BYTES: '2097152',
      DP_OUTBOX_FLUSH_TIMEOUT_MS: '100',
      DP_OUTBOX_SYNC: 'batch',
      DP_OUTBOX_SYNC_INTERVAL_MS: '250',
      DP_KAFKA_BROKERS: 'k1:9092, k2:9093',
      DP_KAFKA_USAGE_TOPIC: 'usage-topic',
    });
    expect(config.records).toEqual({
      outboxDir: '/var/lib/dp/outbox',
      outboxMaxBytes: 2_097_152,
      flushTimeoutMs: 100,
      outboxSync: 'batch',
      outboxSyncIntervalMs: 250,
      kafka: { brokers: ['k1:9092', 'k2:9093'], usageTopic: 'usage-topic', auditTopic: 'router.audit.v1' },
    });
    expect(() => loadDataPlaneConfig({ DP_KAFKA_BROKERS: 'http://k1:9092' })).toThrow(/DP_KAFKA_BROKERS/);
    expect(() => loadDataPlaneConfig({ DP_OUTBOX_MAX_BYTES: '12' })).toThrow(/DP_OUTBOX_MAX_BYTES/);
    expect(() => loadDataPlaneConfig({ DP_OUTBOX_SYNC: 'always' })).toThrow(/DP_OUTBOX_SYNC must be one of/);
    for (const value of ['0', '1001', '2.5'])
      expect(() => loadDataPlaneConfig({ DP_OUTBOX_SYNC_INTERVAL_MS: value })).toThrow(
        /DP_OUTBOX_SYNC_INTERVAL_MS/,
      );
  });

  it('reads the limit store and queue settings, with a 250 ms store deadline by default', () => {
    expect(loadDataPlaneConfig({}).limits).toEqual({
      timeoutMs: 250,
      probeIntervalMs: 1000,
      queueMaxLength: 10_000,
    });
    expect(
      loadDataPlaneConfig({
        DP_LIMITS_TIMEOUT_MS: '100',
        DP_LIMITS_PROBE_INTERVAL_MS: '500',
        DP_QUEUE_MAX_LENGTH: '0',
      }).limits,
    ).toEqual({ timeoutMs: 100, probeIntervalMs: 500, queueMaxLength: 0 });
    expect(() => loadDataPlaneConfig({ DP_LIMITS_TIMEOUT_MS: '0' })).toThrow(/DP_LIMITS_TIMEOUT_MS/);
    expect(loadDataPlaneConfig({ DP_LIMITS_TIMEOUT_MS: '1000' }).limits.timeoutMs).toBe(1000);
    expect(() => loadDataPlaneConfig({ DP_LIMITS_TIMEOUT_MS: '1001' })).toThrow(
      'DP_LIMITS_TIMEOUT_MS must be an integer between 1 and 1000, got "1001"',
    );
  });

  it('caps the limit store deadline so a settlement with all its retries ends inside the reservation margin', () => {
    // A settlement is one store call plus a retry after each delay; at the longest deadline it must still
    // leave the reservation's margin room for a few seconds of clock skew between data plane and Redis.
    const tries = DEFAULT_SETTLE_RETRY_DELAYS_MS.length + 1;
    const retryWaitMs = DEFAULT_SETTLE_RETRY_DELAYS_MS.reduce((sum, delay) => sum + delay, 0);
    const longestSettlementMs = tries * MAX_LIMITS_TIMEOUT_MS + retryWaitMs;
    expect(RESERVATION_SETTLEMENT_MARGIN_MS - longestSettlementMs).toBeGreaterThanOrEqual(3000);
  });

  it('snapshots the environment for credential refs without exposing it to JSON logs', () => {
    const config = loadDataPlaneConfig({ MOCK_A_KEY: 'secret-value' });
    expect(config.environment.get('MOCK_A_KEY')).toBe('secret-value');
    expect(JSON.stringify(config)).not.toContain('secret-value');
  });
});
