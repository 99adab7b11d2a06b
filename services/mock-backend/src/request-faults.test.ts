import { describe, expect, it } from 'vitest';
import { DEFAULT_FAULT_SETTINGS } from './config.js';
import { OpenAIError } from './openai-error.js';
import { applyPreResponseFaults, resolveRequestFaults, type RequestFaults } from './request-faults.js';

const noFaults: RequestFaults = {
  ...DEFAULT_FAULT_SETTINGS,
  forcedStatus: undefined,
  truncateAfter: undefined,
  ignoreStream: false,
  streamAlways: false,
};

describe('resolveRequestFaults', () => {
  it('uses the instance settings without headers', () => {
    expect(resolveRequestFaults({ ...DEFAULT_FAULT_SETTINGS, latencyMs: 5 }, {})).toEqual({
      ...noFaults,
      latencyMs: 5,
    });
  });

  it('lets every header override', () => {
    const faults = resolveRequestFaults(DEFAULT_FAULT_SETTINGS, {
      'x-mock-latency-ms': '1',
      'x-mock-first-byte-delay-ms': '2',
      'x-mock-chunk-delay-ms': '3',
      'x-mock-error-rate': '0.5',
      'x-mock-output-tokens': '4',
      'x-mock-status': '503',
      'x-mock-truncate-after': '0',
      'x-mock-ignore-stream': '1',
      'x-mock-stream-always': '1',
    });
    expect(faults).toEqual({
      latencyMs: 1,
      firstByteDelayMs: 2,
      chunkDelayMs: 3,
      errorRate: 0.5,
      outputTokens: 4,
      forcedStatus: 503,
      truncateAfter: 0,
      ignoreStream: true,
      streamAlways: true,
    });
  });

  it('rejects malformed headers with a 400 naming the header', () => {
    for (const [name, value] of [
      ['x-mock-status', '200'],
      ['x-mock-error-rate', '1.5'],
      ['x-mock-latency-ms', 'soon'],
      ['x-mock-output-tokens', ''],
      ['x-mock-ignore-stream', 'yes'],
      ['x-mock-stream-always', '2'],
    ] as const) {
      const attempt = () => resolveRequestFaults(DEFAULT_FAULT_SETTINGS, { [name]: value });
      expect(attempt).toThrow(OpenAIError);
      expect(attempt).toThrow(name);
    }
  });
});

describe('applyPreResponseFaults', () => {
  const sleeps: number[] = [];
  const sleep = (ms: number) => {
    sleeps.push(ms);
    return Promise.resolve();
  };

  it('sleeps the latency, then forces the status', async () => {
    sleeps.length = 0;
    const attempt = applyPreResponseFaults(
      { ...noFaults, latencyMs: 250, forcedStatus: 429 },
      { sleep, random: () => 0 },
    );
    await expect(attempt).rejects.toMatchObject({ status: 429, code: 'mock_forced_status' });
    expect(sleeps).toEqual([250]);
  });

  it('fails when the random draw is below the error rate, and never draws at rate 0', async () => {
    const draws = [0.2, 0.7];
    const random = () => draws.shift() ?? 1;
    const faults = { ...noFaults, errorRate: 0.5 };
    await expect(applyPreResponseFaults(faults, { sleep, random })).rejects.toMatchObject({
      status: 500,
      code: 'mock_injected_error',
    });
    await expect(applyPreResponseFaults(faults, { sleep, random })).resolves.toBeUndefined();
    const neverCalled = () => {
      throw new Error('random must not be drawn at error rate 0');
    };
    await expect(applyPreResponseFaults(noFaults, { sleep, random: neverCalled })).resolves.toBeUndefined();
  });
});
