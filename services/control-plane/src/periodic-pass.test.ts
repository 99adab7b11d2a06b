import { afterEach, describe, expect, it, vi } from 'vitest';
import { PeriodicPass } from './periodic-pass.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('PeriodicPass', () => {
  it('runs at start, then an interval after each pass has ended, never two at once', async () => {
    vi.useFakeTimers();
    let running = 0;
    let most = 0;
    const finishers: (() => void)[] = [];
    const passes = new PeriodicPass(() => {
      running += 1;
      most = Math.max(most, running);
      return new Promise<void>((resolve) => {
        finishers.push(() => {
          running -= 1;
          resolve();
        });
      });
    }, 1000);
    expect(passes.state()).toBe('idle');
    passes.start();
    passes.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(finishers).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(5000); // the first pass is still running: no second one
    expect(finishers).toHaveLength(1);
    finishers[0]!();
    await vi.advanceTimersByTimeAsync(999);
    expect(finishers).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(finishers).toHaveLength(2);
    expect(most).toBe(1);

    let closed = false;
    const closing = passes.close().then(() => {
      closed = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(closed).toBe(false); // waits for the running pass
    finishers[1]!();
    await closing;
    expect(passes.state()).toBe('closed');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(finishers).toHaveLength(2);
  });
});
