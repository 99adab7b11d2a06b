import type { Clock, TimerHandle } from './clock.js';

export interface SyncSchedulerOptions {
  clock: Clock;
  /** Least time between the starts of two syncs, in ms. */
  intervalMs: number;
  /** Whether something written is not yet synced. */
  hasUnsynced(): boolean;
  /** One fdatasync of what was written so far. Never called concurrently. */
  sync(): Promise<void>;
  /** After a failed one; no sync is scheduled after a failure (the outbox is failed until reopened). */
  onFailed(error: unknown): void;
}

/**
 * The interval durability mode's background fdatasync: after a write, a sync starts at most `intervalMs`
 * after the start of the previous one (at once when the last sync is older than that), so the data that
 * is written but not yet on stable storage is never older than about `intervalMs` + one fdatasync.
 * States: idle → scheduled (timer armed) → syncing → (scheduled again if more was written | idle); a
 * failed sync stops it for good.
 */
export class SyncScheduler {
  private timer: TimerHandle | undefined;
  private running: Promise<void> | undefined;
  private lastStartMs = Number.NEGATIVE_INFINITY;
  private stopped = false;

  constructor(private readonly options: SyncSchedulerOptions) {}

  /** Called after each write: makes sure a sync is coming. */
  written(): void {
    if (this.stopped || this.timer !== undefined || this.running !== undefined) return;
    const { clock, intervalMs } = this.options;
    const delayMs = Math.max(0, this.lastStartMs + intervalMs - clock.nowMs());
    this.timer = clock.setTimeout(() => {
      this.timer = undefined;
      this.start();
    }, delayMs);
  }

  /** Cancels a scheduled sync and waits for the one in flight; the owner then syncs (or not) itself. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) {
      this.options.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    await this.running;
  }

  private start(): void {
    if (this.stopped) return;
    const { clock } = this.options;
    this.lastStartMs = clock.nowMs();
    this.running = this.options.sync().then(
      () => {
        this.running = undefined;
        // Written while this sync ran (or before it, after its snapshot): schedule the next one.
        if (this.options.hasUnsynced()) this.written();
      },
      (error: unknown) => {
        this.running = undefined;
        this.stopped = true;
        this.options.onFailed(error);
      },
    );
  }
}
