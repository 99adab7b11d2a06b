import { stat } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createSystemClock } from './clock.js';

describe('createSystemClock', () => {
  it('runs a zero delay in the same loop turn (before any timer) and can cancel it', async () => {
    const clock = createSystemClock();
    const order: string[] = [];
    await new Promise<void>((resolve) => {
      // Scheduled from an I/O callback (poll phase): the check phase of this turn comes before any timer.
      stat('.', () => {
        clock.setTimeout(() => order.push('timer 1 ms'), 1);
        clock.setTimeout(() => order.push('zero'), 0);
        const cancelled = clock.setTimeout(() => order.push('cancelled'), 0);
        clock.clearTimeout(cancelled);
        clock.setTimeout(() => resolve(), 5);
      });
    });
    expect(order).toEqual(['zero', 'timer 1 ms']);
  });
});
