import { afterAll, describe, expect, it } from 'vitest';
import { startLauncher, stopLaunchers, temporaryDirectory, waitRunning } from './support/local-launcher.js';

// The services read CP_*, DP_* and MOCK_* variables over their embedded defaults, and the launcher passes
// its environment on: a DP_REDIS_URL exported for another project made the "no Redis needed" quick start
// use (or wait for) that Redis, silently. The launcher names what it passes on; the variables it sets
// itself (ports, directories, configs) win over the caller's and are not named.

afterAll(stopLaunchers);

describe('the local start command with service variables in the environment', () => {
  it('names the CP_/DP_/MOCK_ variables the services get from the caller, and no others', async () => {
    const launcher = await startLauncher(temporaryDirectory('start-env-'), [], {
      DP_LIMITS_PROBE_INTERVAL_MS: '2000',
      MOCK_LATENCY_MS: '0',
      DP_PORT: '1',
    });
    await waitRunning(launcher);
    const note = launcher.process.errorLines.find((line) => line.includes('from your environment'));
    expect(note).toBeDefined();
    expect(note).toContain('DP_LIMITS_PROBE_INTERVAL_MS');
    expect(note).toContain('MOCK_LATENCY_MS');
    // Set by the launcher for each service: the caller's value is not used, so not named.
    expect(note).not.toContain('DP_PORT');
  });

  it('says nothing when the environment has none', async () => {
    const launcher = await startLauncher(temporaryDirectory('start-env-none-'));
    await waitRunning(launcher);
    expect(
      [...launcher.process.lines, ...launcher.process.errorLines].some((line) =>
        line.includes('from your environment'),
      ),
    ).toBe(false);
  });
});
