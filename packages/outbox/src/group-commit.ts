import type { Clock, TimerHandle } from './clock.js';

export interface GroupCommitOptions<T> {
  clock: Clock;
  /**
   * How long the first entry of a batch waits for company when no commit is in flight, in ms. While a commit
   * is in flight, new entries wait for it anyway and go out in the next batch as soon as it finishes.
   */
  maxDelayMs: number;
  /** A batch is cut at this many bytes (at least one entry), and a pending batch this large goes out at once. */
  maxBatchBytes: number;
  /**
   * A batch whose first entry came this many ms ago (by `clock.nowMs`) goes out at the next submit instead
   * of waiting for its timer. With a zero delay the timer is `setImmediate`, which on a busy event loop
   * fires only after every I/O callback of the turn — many ms when a burst of requests arrives together —
   * and every entry of the batch waits for it. Unset: only the timer and the size cut a batch.
   */
  maxCollectMs?: number;
  /** Makes one batch durable; its rejection rejects every entry in the batch. Never called concurrently. */
  commit(entries: T[]): Promise<void>;
}

interface Pending<T> {
  entry: T;
  bytes: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit: entries submitted close together share one `commit` (one write + one fsync), so throughput
 * is bounded by fsyncs per second times batch size instead of fsyncs per second. States: idle → waiting
 * (timer armed) → committing → (next batch | idle). Batches commit strictly in submission order.
 */
export class GroupCommit<T> {
  private pending: Pending<T>[] = [];
  private pendingBytes = 0;
  private timer: TimerHandle | undefined;
  /** clock.nowMs() when the oldest pending entry was submitted. */
  private firstPendingAtMs = 0;
  private committing = false;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: GroupCommitOptions<T>) {}

  /** Resolves once the batch holding `entry` is committed; rejects with that batch's commit error. */
  submit(entry: T, bytes: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ entry, bytes, resolve, reject });
      this.pendingBytes += bytes;
      const { maxCollectMs, clock } = this.options;
      if (maxCollectMs !== undefined && this.pending.length === 1) this.firstPendingAtMs = clock.nowMs();
      if (this.committing) return;
      if (
        this.pendingBytes >= this.options.maxBatchBytes ||
        (maxCollectMs !== undefined && clock.nowMs() - this.firstPendingAtMs >= maxCollectMs)
      )
        this.startCommit();
      else if (this.timer === undefined) {
        this.timer = this.options.clock.setTimeout(() => {
          this.timer = undefined;
          this.startCommit();
        }, this.options.maxDelayMs);
      }
    });
  }

  /** Entries submitted and not yet committed (or failed). */
  get pendingCount(): number {
    return this.pending.length;
  }

  /** Commits whatever is pending without waiting for the delay, and resolves when nothing is pending or in flight. */
  async drain(): Promise<void> {
    if (!this.committing && this.pending.length > 0) this.startCommit();
    if (!this.committing && this.pending.length === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private startCommit(): void {
    if (this.timer !== undefined) {
      this.options.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    const batch = this.takeBatch();
    if (batch.length === 0) {
      this.notifyIdle();
      return;
    }
    this.committing = true;
    this.options.commit(batch.map((item) => item.entry)).then(
      () => this.finishCommit(batch, undefined),
      (error: unknown) => this.finishCommit(batch, error ?? new Error('commit failed')),
    );
  }

  private finishCommit(batch: Pending<T>[], error: unknown): void {
    this.committing = false;
    for (const item of batch) {
      if (error === undefined) item.resolve();
      else item.reject(error);
    }
    // Entries that arrived during the commit have already waited one fsync: send them at once.
    if (this.pending.length > 0) this.startCommit();
    else this.notifyIdle();
  }

  private takeBatch(): Pending<T>[] {
    let bytes = 0;
    let count = 0;
    while (count < this.pending.length) {
      const next = this.pending[count]!;
      if (count > 0 && bytes + next.bytes > this.options.maxBatchBytes) break;
      bytes += next.bytes;
      count += 1;
    }
    const batch = this.pending.splice(0, count);
    this.pendingBytes -= bytes;
    return batch;
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
