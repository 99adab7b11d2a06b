import type { Clock, TimerHandle } from './clock.js';

interface ScheduledTimer {
  id: number;
  dueMs: number;
  callback: () => void;
}

/**
 * A clock that only moves when told to, for deterministic tests of group commit and shipper backoff.
 * `advance(ms)` runs due timers in due order (ties in creation order), each at its due time.
 */
export class ManualClock implements Clock {
  private now: number;
  private nextId = 1;
  private timers: ScheduledTimer[] = [];

  constructor(startMs = 1_700_000_000_000) {
    this.now = startMs;
  }

  nowMs(): number {
    return this.now;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const timer = { id: this.nextId, dueMs: this.now + Math.max(0, delayMs), callback };
    this.nextId += 1;
    this.timers.push(timer);
    return timer.id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers = this.timers.filter((timer) => timer.id !== handle);
  }

  /** Delays (ms from now) of the timers still scheduled, soonest first. */
  pendingDelaysMs(): number[] {
    return this.timers.map((timer) => timer.dueMs - this.now).sort((a, b) => a - b);
  }

  /** Moves time forward by `ms`, running every timer that falls due on the way. */
  advance(ms: number): void {
    const target = this.now + ms;
    for (;;) {
      const due = this.timers
        .filter((timer) => timer.dueMs <= target)
        .sort((a, b) => a.dueMs - b.dueMs || a.id - b.id)[0];
      if (due === undefined) break;
      this.timers = this.timers.filter((timer) => timer !== due);
      this.now = Math.max(this.now, due.dueMs);
      due.callback();
    }
    this.now = target;
  }
}
