import { describe, expect, it } from 'vitest';
import { runEntryPoint } from '@api-router/testing';

// The entry point itself (src/main.ts through tsx, as the tests' processes run it): a bad environment
// variable must end the process at once with one clear log line, not a logged stack trace.

describe('data plane entry point', () => {
  it('exits 1 on a bad environment variable with one fatal line naming it, and no stack', async () => {
    const { code, stdout, stderr } = await runEntryPoint(
      'services/data-plane/src/main.ts',
      { DP_PORT: 'abc' },
      'DP_',
    );
    expect(code).toBe(1);
    expect(stderr).not.toMatch(/^\s+at /m);
    const lines = stdout.split('\n').filter((line) => line !== '');
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 60, service: 'data-plane' });
    expect(line.msg).toBe(
      'data plane failed to start: DP_PORT must be an integer between 0 and 65535, got "abc"',
    );
    expect(lines[0]).not.toContain('stack');
  }, 90_000);
});
