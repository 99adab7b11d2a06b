import { describe, expect, it } from 'vitest';
import { formatServicesEnv, parseEnvLines, pickServicesEnv, type ServicesEnv } from './services-env.js';

const env: ServicesEnv = {
  REDIS_URL: 'redis://127.0.0.1:1001',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:1002/postgres',
  ETCD_ENDPOINTS: 'http://127.0.0.1:1003',
  KAFKA_BROKERS: '127.0.0.1:1004',
};

describe('services env', () => {
  it('round-trips through the KEY=value file format', () => {
    const text = formatServicesEnv(env);
    expect(text).toBe(
      'REDIS_URL=redis://127.0.0.1:1001\nDATABASE_URL=postgres://postgres@127.0.0.1:1002/postgres\n' +
        'ETCD_ENDPOINTS=http://127.0.0.1:1003\nKAFKA_BROKERS=127.0.0.1:1004\n',
    );
    expect(pickServicesEnv(parseEnvLines(text))).toEqual({ env });
  });

  it('ignores comments, blank lines and lines without a key', () => {
    expect(parseEnvLines('# comment\n\n=nokey\nA=1=2\n  B = x\n')).toEqual({ A: '1=2', 'B ': ' x' });
  });

  it('names the missing variables, treating blank values as missing', () => {
    expect(pickServicesEnv({ REDIS_URL: 'redis://x', DATABASE_URL: '  ' })).toEqual({
      missing: ['DATABASE_URL', 'ETCD_ENDPOINTS', 'KAFKA_BROKERS'],
    });
    expect(pickServicesEnv({}).missing).toHaveLength(4);
  });
});
