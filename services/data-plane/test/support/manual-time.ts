import type { Clock } from '../../src/clock.js';
import type { TimerHandle, Timers } from '../../src/timers.js';

interface Scheduled {
  id: number;
  dueMs: number;
  callback: () => void;
}

/** A clock and timers that move only when the test calls advance(): no sleeps, fully deterministic. */
export class ManualTime implements Clock, Timers {
  #nowMs: number;
  #nextId = 1;
  #scheduled: Scheduled[] = [];

  constructor(startMs = 1_700_000_000_000) {
    this.#nowMs = startMs;
  }

  now(): number {
    return this.#nowMs;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const id = this.#nextId++;
    this.#scheduled.push({ id, dueMs: this.#nowMs + Math.max(0, delayMs), callback });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.#scheduled = this.#scheduled.filter((entry) => entry.id !== handle);
  }

  /** Delays of the pending timers, relative to now, in scheduling order. */
  pendingDelaysMs(): number[] {
    return this.#scheduled.map((entry) => entry.dueMs - this.#nowMs);
  }

  /** Moves time forward, firing due timers in due order (each at its due time). */
  advance(ms: number): void {
    const targetMs = this.#nowMs + ms;
    for (;;) {
      const next = [...this.#scheduled].sort((a, b) => a.dueMs - b.dueMs || a.id - b.id)[0];
      if (next === undefined || next.dueMs > targetMs) break;
      this.#scheduled = this.#scheduled.filter((entry) => entry !== next);
      this.#nowMs = next.dueMs;
      next.callback();
    }
    this.#nowMs = targetMs;
  }
}
