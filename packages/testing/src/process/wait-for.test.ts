import { describe, expect, it } from 'vitest';
import { waitFor } from './wait-for.js';

describe('waitFor', () => {
  it('returns the first value other than undefined, probing again after failures', async () => {
    let calls = 0;
    const value = await waitFor(
      'the third probe',
      () => {
        calls += 1;
        if (calls === 1) throw new Error('not up yet');
        return calls === 3 ? 'ready' : undefined;
      },
      { intervalMs: 1 },
    );
    expect(value).toBe('ready');
    expect(calls).toBe(3);
  });

  it('fails after the timeout naming what it waited for and the last probe error', async () => {
    const last = new Error('connection refused');
    const failure = await waitFor(
      'the port',
      () => {
        throw last;
      },
      { timeoutMs: 20, intervalMs: 5 },
    ).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toBe('timed out waiting for the port: connection refused');
    expect((failure as Error).cause).toBe(last);
  });

  it('keeps a falsy value other than undefined', async () => {
    await expect(waitFor('zero', () => 0, { intervalMs: 1 })).resolves.toBe(0);
  });
});
