import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    expect(loadConfig({})).toEqual({
      host: '127.0.0.1',
      grpcPort: 50051,
      httpPort: 8081,
      configSource: {
        kind: 'file',
        routerPath: resolve('configs/router.sample.yaml'),
        policiesPath: resolve('configs/policies.sample.yaml'),
      },
      stateDir: resolve('.tmp/control-plane'),
      databaseUrl: undefined,
      budgets: {
        redisUrl: undefined,
        limitsKeyPrefix: 'router:limits:',
        commandTimeoutMs: 1000,
        changes: {
          graceMs: 60_000,
          intervalMs: 30_000,
          maxChangesPerPass: 100,
          changeRetentionMs: 7 * 86_400_000,
        },
      },
      drainDelayMs: 2000,
      policyHeartbeatMs: 30_000,
      logLevel: 'info',
      otlpTracesEndpoint: undefined,
    });
  });

  it('reads the etcd source settings', () => {
    const config = loadConfig({
      CP_CONFIG_SOURCE: 'etcd',
      CP_ETCD_ENDPOINTS: 'http://10.0.0.1:2379, http://10.0.0.2:2379',
      CP_ETCD_PREFIX: '/router/',
      CP_GRPC_PORT: '0',
    });
    expect(config.configSource).toEqual({
      kind: 'etcd',
      endpoints: ['http://10.0.0.1:2379', 'http://10.0.0.2:2379'],
      prefix: '/router/',
    });
    expect(config.grpcPort).toBe(0);
  });

  it('reads the record retention in days; 0 or unset keeps records for ever', () => {
    expect(loadConfig({ CP_RECORD_RETENTION_DAYS: '30' }).recordRetentionMs).toBe(30 * 86_400_000);
    expect(loadConfig({ CP_RECORD_RETENTION_DAYS: '0' }).recordRetentionMs).toBeUndefined();
    expect(loadConfig({}).recordRetentionMs).toBeUndefined();
    expect(() => loadConfig({ CP_RECORD_RETENTION_DAYS: '1.5' })).toThrow('CP_RECORD_RETENTION_DAYS');
  });

  it('reads the audit database URL, and refuses anything but a postgres URL', () => {
    expect(loadConfig({ CP_DATABASE_URL: ' postgres://router@db:5432/audit ' }).databaseUrl).toBe(
      'postgres://router@db:5432/audit',
    );
    expect(loadConfig({ CP_DATABASE_URL: 'postgresql://db/audit' }).databaseUrl).toBe(
      'postgresql://db/audit',
    );
    expect(() => loadConfig({ CP_DATABASE_URL: 'mysql://db/audit' })).toThrow('CP_DATABASE_URL');
  });

  it('reads the shared limit store settings for budget administration', () => {
    const config = loadConfig({ CP_REDIS_URL: 'redis://127.0.0.1:6379/2', CP_LIMITS_KEY_PREFIX: 'rl:' });
    expect(config.budgets).toMatchObject({
      redisUrl: 'redis://127.0.0.1:6379/2',
      limitsKeyPrefix: 'rl:',
      commandTimeoutMs: 1000,
    });
    expect(() => loadConfig({ CP_REDIS_URL: 'http://redis' })).toThrow('CP_REDIS_URL');
    expect(() => loadConfig({ CP_LIMITS_KEY_PREFIX: 'a{b}' })).toThrow('CP_LIMITS_KEY_PREFIX');
  });

  it('reads the budget change reconciler pace and the change id retention', () => {
    const config = loadConfig({
      CP_BUDGET_RECONCILE_GRACE_MS: '120000',
      CP_BUDGET_RECONCILE_INTERVAL_MS: '5000',
      CP_BUDGET_RECONCILE_MAX_CHANGES: '20',
      CP_BUDGET_CHANGE_RETENTION_MS: '86400000',
    });
    expect(config.budgets?.changes).toEqual({
      graceMs: 120_000,
      intervalMs: 5000,
      maxChangesPerPass: 20,
      changeRetentionMs: 86_400_000,
    });
  });

  it('refuses a reconciler pace or retention out of range, or a retention too short for the grace', () => {
    const refused: [Record<string, string>, string][] = [
      [
        { CP_BUDGET_RECONCILE_GRACE_MS: '9999' },
        'CP_BUDGET_RECONCILE_GRACE_MS must be an integer between 10000',
      ],
      [{ CP_BUDGET_RECONCILE_GRACE_MS: '1m' }, 'CP_BUDGET_RECONCILE_GRACE_MS'],
      [{ CP_BUDGET_RECONCILE_INTERVAL_MS: '999' }, 'CP_BUDGET_RECONCILE_INTERVAL_MS'],
      [{ CP_BUDGET_RECONCILE_INTERVAL_MS: '3600001' }, 'CP_BUDGET_RECONCILE_INTERVAL_MS'],
      [{ CP_BUDGET_RECONCILE_MAX_CHANGES: '0' }, 'CP_BUDGET_RECONCILE_MAX_CHANGES'],
      [{ CP_BUDGET_RECONCILE_MAX_CHANGES: '10001' }, 'CP_BUDGET_RECONCILE_MAX_CHANGES'],
      [{ CP_BUDGET_CHANGE_RETENTION_MS: '3599999' }, 'CP_BUDGET_CHANGE_RETENTION_MS'],
      [{ CP_BUDGET_CHANGE_RETENTION_MS: String(91 * 86_400_000) }, 'CP_BUDGET_CHANGE_RETENTION_MS'],
      [
        { CP_BUDGET_CHANGE_RETENTION_MS: '7200000', CP_BUDGET_RECONCILE_GRACE_MS: '3600000' },
        'CP_BUDGET_CHANGE_RETENTION_MS must be more than twice',
      ],
    ];
    for (const [env, message] of refused) expect(() => loadConfig(env)).toThrow(message);
    // Exactly at the floor: decidable for 1 h > 10 s grace + 1 s interval.
    expect(
      loadConfig({
        CP_BUDGET_RECONCILE_GRACE_MS: '10000',
        CP_BUDGET_RECONCILE_INTERVAL_MS: '1000',
        CP_BUDGET_CHANGE_RETENTION_MS: '7200000',
      }).budgets?.changes,
    ).toMatchObject({ graceMs: 10_000, intervalMs: 1000, changeRetentionMs: 7_200_000 });
  });

  it.each([['abc'], ['-1'], ['70000'], ['1.5']])('rejects CP_GRPC_PORT=%s naming the variable', (value) => {
    expect(() => loadConfig({ CP_GRPC_PORT: value })).toThrow(
      `CP_GRPC_PORT must be an integer between 0 and 65535, got "${value}"`,
    );
  });

  it('refuses a policy heartbeat below 100 ms instead of raising it', () => {
    for (const value of ['0', '99']) {
      expect(() => loadConfig({ CP_POLICY_HEARTBEAT_MS: value })).toThrow(
        `CP_POLICY_HEARTBEAT_MS must be an integer between 100 and 3600000, got "${value}"`,
      );
    }
    expect(loadConfig({ CP_POLICY_HEARTBEAT_MS: '100' }).policyHeartbeatMs).toBe(100);
    expect(() => loadConfig({ CP_POLICY_HEARTBEAT_MS: '3600001' })).toThrow('CP_POLICY_HEARTBEAT_MS');
  });

  it('lists every invalid variable', () => {
    const load = () =>
      loadConfig({
        CP_GRPC_PORT: '70000',
        CP_CONFIG_SOURCE: 'consul',
        CP_DRAIN_DELAY_MS: '-1',
        LOG_LEVEL: 'loud',
      });
    for (const name of ['CP_GRPC_PORT', 'CP_CONFIG_SOURCE', 'CP_DRAIN_DELAY_MS', 'LOG_LEVEL'])
      expect(load).toThrow(name);
  });
});
