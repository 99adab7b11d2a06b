import { describe, expect, it } from 'vitest';
import { runEntryPoint } from '@api-router/testing';

// The entry point itself (src/main.ts through tsx, as the tests' processes run it): a bad environment
// variable must end the process at once with one clear log line, not Node's trace of an uncaught throw.

describe('control plane entry point', () => {
  it('exits 1 on a bad environment variable with one fatal line naming it, and no stack', async () => {
    const { code, stdout, stderr } = await runEntryPoint(
      'services/control-plane/src/main.ts',
      { CP_GRPC_PORT: 'abc' },
      'CP_',
    );
    expect(code).toBe(1);
    expect(stderr).not.toMatch(/^\s+at /m);
    const lines = stdout.split('\n').filter((line) => line !== '');
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 60, service: 'control-plane' });
    expect(line.msg).toBe(
      'control plane failed to start: invalid control-plane environment: ' +
        'CP_GRPC_PORT must be an integer between 0 and 65535, got "abc"',
    );
    expect(lines[0]).not.toContain('stack');
  }, 90_000);
});
