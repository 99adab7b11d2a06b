import { describe, expect, it } from 'vitest';
import { DEFAULT_FAULT_SETTINGS, loadConfig, resolveConfig } from './config.js';

describe('loadConfig', () => {
  it('uses the defaults for an empty environment', () => {
    expect(loadConfig({})).toEqual({
      port: 0,
      host: '127.0.0.1',
      id: 'mock-backend',
      models: ['mock-model'],
      healthy: true,
      recordLimit: 100,
      logLevel: 'info',
      faults: DEFAULT_FAULT_SETTINGS,
    });
  });

  it('reads every variable', () => {
    const config = loadConfig({
      MOCK_PORT: '8081',
      MOCK_HOST: '0.0.0.0',
      MOCK_ID: 'b1',
      MOCK_MODELS: 'm1, m2,,',
      MOCK_HEALTHY: 'false',
      MOCK_RECORD_LIMIT: '5',
      LOG_LEVEL: 'warn',
      MOCK_LATENCY_MS: '10',
      MOCK_FIRST_BYTE_DELAY_MS: '20',
      MOCK_CHUNK_DELAY_MS: '30',
      MOCK_ERROR_RATE: '0.25',
      MOCK_OUTPUT_TOKENS: '7',
    });
    expect(config).toEqual({
      port: 8081,
      host: '0.0.0.0',
      id: 'b1',
      models: ['m1', 'm2'],
      healthy: false,
      recordLimit: 5,
      logLevel: 'warn',
      faults: { latencyMs: 10, firstByteDelayMs: 20, chunkDelayMs: 30, errorRate: 0.25, outputTokens: 7 },
    });
  });

  it('fails naming the variable on a malformed value', () => {
    expect(() => loadConfig({ MOCK_ERROR_RATE: '2' })).toThrow(/MOCK_ERROR_RATE/);
    expect(() => loadConfig({ MOCK_PORT: 'http' })).toThrow(/MOCK_PORT/);
    expect(() => loadConfig({ MOCK_LATENCY_MS: '-1' })).toThrow(/MOCK_LATENCY_MS/);
    expect(() => loadConfig({ MOCK_HEALTHY: 'maybe' })).toThrow(/MOCK_HEALTHY/);
  });
});

describe('resolveConfig', () => {
  it('merges partial fault settings over the defaults', () => {
    expect(resolveConfig({ id: 'x', faults: { errorRate: 1 } }).faults).toEqual({
      ...DEFAULT_FAULT_SETTINGS,
      errorRate: 1,
    });
  });
});
