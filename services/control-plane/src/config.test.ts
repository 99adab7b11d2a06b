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
      budgets: { redisUrl: undefined, limitsKeyPrefix: 'router:limits:', commandTimeoutMs: 1000 },
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
    expect(config.budgets).toEqual({
      redisUrl: 'redis://127.0.0.1:6379/2',
      limitsKeyPrefix: 'rl:',
      commandTimeoutMs: 1000,
    });
    expect(() => loadConfig({ CP_REDIS_URL: 'http://redis' })).toThrow('CP_REDIS_URL');
    expect(() => loadConfig({ CP_LIMITS_KEY_PREFIX: 'a{b}' })).toThrow('CP_LIMITS_KEY_PREFIX');
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
