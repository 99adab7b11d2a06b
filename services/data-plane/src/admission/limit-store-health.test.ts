import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../clock.js';
import { systemTimers } from '../timers.js';
import { LimitStoreHealth } from './limit-store-health.js';

beforeEach(() => {
  vi.useFakeTimers({ now: Date.UTC(2030, 0, 1) });
});
afterEach(() => {
  vi.useRealTimers();
});

function createHealth(probe: () => Promise<void>) {
  const changes: boolean[] = [];
  const logger = { warn: vi.fn(), info: vi.fn() };
  const health = new LimitStoreHealth({
    kind: 'redis',
    clock: systemClock,
    timers: systemTimers,
    logger,
    probe,
    probeIntervalMs: 1000,
    onChange: (degraded) => changes.push(degraded),
  });
  return { health, changes, logger };
}

describe('LimitStoreHealth', () => {
  it('starts healthy', () => {
    const { health } = createHealth(() => Promise.resolve());
    expect(health.degraded).toBe(false);
    expect(health.detail()).toEqual({ store: 'redis', degraded: false, since: null });
  });

  it('degrades on a failure (once), and a successful call clears it', () => {
    const { health, changes } = createHealth(() => Promise.reject(new Error('down')));
    health.failed('timeout');
    health.failed('connection');
    expect(health.detail()).toEqual({ store: 'redis', degraded: true, since: '2030-01-01T00:00:00.000Z' });
    health.succeeded();
    health.succeeded();
    expect(health.degraded).toBe(false);
    expect(changes).toEqual([true, false]);
    health.close();
  });

  it('probes while degraded and recovers by itself once the probe succeeds', async () => {
    let up = false;
    const probe = vi.fn(() => (up ? Promise.resolve() : Promise.reject(new Error('down'))));
    const { health, changes } = createHealth(probe);
    health.failed('timeout');
    await vi.advanceTimersByTimeAsync(0);
    expect(probe).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(999);
    expect(probe).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(probe).toHaveBeenCalledTimes(2);
    expect(health.degraded).toBe(true);
    await vi.advanceTimersByTimeAsync(2000);
    expect(probe).toHaveBeenCalledTimes(4);
    up = true;
    await vi.advanceTimersByTimeAsync(1000);
    expect(health.degraded).toBe(false);
    expect(changes).toEqual([true, false]);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(probe).toHaveBeenCalledTimes(5);
  });

  it('stops probing once closed', async () => {
    const probe = vi.fn(() => Promise.reject(new Error('down')));
    const { health } = createHealth(probe);
    health.failed('timeout');
    health.close();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(probe).not.toHaveBeenCalled();
  });
});
