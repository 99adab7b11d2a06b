import { backoffDelayMs, DEFAULT_BACKOFF_POLICY, type BackoffPolicy } from './backoff-policy.js';
import type { BacklogStats } from './backlog.js';
import { createSystemClock, type Clock, type TimerHandle } from './clock.js';
import type { OutboxLogger } from './outbox-events.js';
import type { OutboxRecord } from './outbox-record.js';
import type { OutboxTransport } from './outbox-transport.js';
import type { ReadLimits } from './segment-reader.js';

/** The part of `Outbox` the shipper uses. */
export interface ShipperOutbox {
  readonly ackedSeq: number;
  readonly lastCommittedSeq: number;
  read(afterSeq: number, limits: ReadLimits): Promise<OutboxRecord[]>;
  ack(throughSeq: number): Promise<void>;
  backlog(): BacklogStats;
  onCommitted(listener: () => void): () => void;
}

export interface ShipperOptions {
  outbox: ShipperOutbox;
  transport: OutboxTransport;
  /** Records per `send` (default 500). */
  maxBatchRecords?: number;
  /** Frame bytes per `send` (default 1 MiB; a single larger record still goes alone). */
  maxBatchBytes?: number;
  /**
   * 0 (default): each batch is acked (the outbox cursor written and fsynced) before the next is read; a
   * failed ack re-sends the batch. > 0: the shipper moves on once a batch is delivered and acks what was
   * delivered at most every `ackIntervalMs` (at once for a `flush`, and at `close`); a failed ack is
   * retried with backoff, without re-sending. A crash re-ships what was delivered since the last ack
   * (at most about `ackIntervalMs` of records: duplicates, never loss), in exchange for one cursor write
   * per interval instead of one per batch.
   */
  ackIntervalMs?: number;
  /**
   * > 0: a batch that is not full waits until `lingerMs` after the start of the previous send (as Kafka's
   * `linger.ms`), so that at moderate load there is at most one send per `lingerMs` instead of one per
   * commit (appends that are not fdatasynced commit in very small batches). A flush or close sends at
   * once. Default 0: send as soon as something is committed.
   */
  lingerMs?: number;
  backoff?: Partial<BackoffPolicy>;
  clock?: Clock;
  /** [0, 1) source for backoff jitter (default Math.random). */
  random?: () => number;
  logger?: OutboxLogger;
}

/**
 * - `stopped`: not started, or closed.
 * - `idle`: everything committed is shipped; waiting for the next commit.
 * - `sending`: a batch is with the transport (or being read/acked).
 * - `backoff`: the last attempt failed; waiting before retrying the same batch.
 */
export type ShipperState = 'stopped' | 'idle' | 'sending' | 'backoff';

/** Numbers for metrics and readiness. */
export interface ShipperLag {
  /** Committed records not yet acked. */
  pendingRecords: number;
  /** Their bytes on disk. */
  pendingBytes: number;
  /** Age of the oldest of them, in ms (0 when none). */
  oldestPendingAgeMs: number;
  /** Failed attempts since the last success. */
  consecutiveFailures: number;
  /** Records shipped and acked by this shipper since it started. */
  shippedRecords: number;
  /** Message of the last failure, cleared by a success. */
  lastError: string | undefined;
  /**
   * How long the `send` in flight has been waiting, in ms (0 when none is). A transport that retries by
   * itself (kafkajs' idempotent producer retries an unreachable broker without limit) neither fails nor
   * resolves during an outage, so `consecutiveFailures` and `lastError` stay at zero: this grows instead.
   */
  sendInFlightMs: number;
}

export interface ShipperCloseOptions {
  /**
   * true: do not wait for a `send` in flight (a transport retrying a broker that is gone can take far
   * longer than a shutdown may). Its outcome is ignored: what it carried is not acked, so it ships again
   * after the next start (at least once), and its settling later, after the outbox is closed, touches
   * nothing. Default false: wait for the attempt in flight.
   */
  abandonSend?: boolean;
}

interface FlushWaiter {
  targetSeq: number;
  resolve: (drained: boolean) => void;
}

/**
 * Drains the outbox to a transport, at least once and in seq order: read a batch after the last acked seq,
 * `send` it, ack it; on failure wait (capped exponential backoff) and resend the same batch. A crash between
 * send and ack re-sends the batch on restart (duplicates, never loss).
 */
export class Shipper {
  private status: ShipperState = 'stopped';
  private stopping = false;
  private loop: Promise<void> | undefined;
  /** Which loop is current: a loop left behind by `close({ abandonSend })` sees it change and acks nothing. */
  private loopGeneration = 0;
  /** The current loop awaits `transport.send` (what `close({ abandonSend })` does not wait for). */
  private sendInFlight = false;
  /** When the send in flight started (`lastSendStartMs` is kept after it settles, for the linger). */
  private sendStartedAtMs = 0;
  private unsubscribe: (() => void) | undefined;
  /** Highest seq delivered to the transport (acked already, or waiting for the next lazy ack). */
  private shippedThrough = 0;
  private lastAckStartMs = Number.NEGATIVE_INFINITY;
  private ackTimer: TimerHandle | undefined;
  private readonly ackIntervalMs: number;
  private readonly lingerMs: number;
  private lastSendStartMs = Number.NEGATIVE_INFINITY;
  /** Ends a linger wait early (flush, close); commits do not. */
  private lingerWake: (() => void) | undefined;
  private newWork = false;
  private wake: (() => void) | undefined;
  private failures = 0;
  private shipped = 0;
  private lastError: string | undefined;
  private flushWaiters: FlushWaiter[] = [];
  private readonly clock: Clock;
  private readonly backoff: BackoffPolicy;
  private readonly limits: ReadLimits;

  constructor(private readonly options: ShipperOptions) {
    this.clock = options.clock ?? createSystemClock();
    this.backoff = { ...DEFAULT_BACKOFF_POLICY, ...options.backoff };
    this.limits = {
      maxRecords: options.maxBatchRecords ?? 500,
      maxBytes: options.maxBatchBytes ?? 1024 * 1024,
    };
    this.ackIntervalMs = options.ackIntervalMs ?? 0;
    this.lingerMs = options.lingerMs ?? 0;
  }

  /** Starts shipping in the background; a no-op when already running. Errors are retried, never thrown. */
  start(): void {
    if (this.loop !== undefined) return;
    this.stopping = false;
    this.shippedThrough = this.options.outbox.ackedSeq;
    this.unsubscribe = this.options.outbox.onCommitted(() => {
      this.newWork = true;
      // A commit wakes an idle shipper, never one backing off (only a flush or close cuts that short).
      if (this.status !== 'backoff') this.wakeUp();
      if (this.lingerWake !== undefined && !this.lingerWanted()) this.lingerWake(); // a full batch is ready
    });
    this.loop = this.run(this.loopGeneration);
  }

  state(): ShipperState {
    return this.status;
  }

  lag(): ShipperLag {
    const backlog = this.options.outbox.backlog();
    return {
      pendingRecords: backlog.records,
      pendingBytes: backlog.bytes,
      oldestPendingAgeMs:
        backlog.oldestAppendedAtMs === undefined
          ? 0
          : Math.max(0, this.clock.nowMs() - backlog.oldestAppendedAtMs),
      consecutiveFailures: this.failures,
      shippedRecords: this.shipped,
      lastError: this.lastError,
      sendInFlightMs: this.sendInFlight ? Math.max(0, this.clock.nowMs() - this.sendStartedAtMs) : 0,
    };
  }

  /**
   * Waits until every record committed before the call is shipped and acked, cutting a backoff wait short
   * to retry at once. Resolves true when drained, false after `timeoutMs` ms or when the shipper is closed
   * (or was never started) first. Never rejects.
   */
  flush(timeoutMs: number): Promise<boolean> {
    const targetSeq = this.options.outbox.lastCommittedSeq;
    if (this.options.outbox.ackedSeq >= targetSeq) return Promise.resolve(true);
    if (this.loop === undefined) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const timer = this.clock.setTimeout(() => settle(false), timeoutMs);
      const waiter: FlushWaiter = { targetSeq, resolve: (drained) => settle(drained) };
      const settle = (drained: boolean): void => {
        this.clock.clearTimeout(timer);
        this.flushWaiters = this.flushWaiters.filter((entry) => entry !== waiter);
        resolve(drained);
      };
      this.flushWaiters.push(waiter);
      this.wakeUp();
      this.lingerWake?.();
    });
  }

  /**
   * Stops after the attempt in flight (a hung `send` is bounded by the transport's own timeout, unless
   * `abandonSend`); pending flushes resolve false.
   */
  async close(options: ShipperCloseOptions = {}): Promise<void> {
    this.stopping = true;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.wakeUp();
    this.lingerWake?.();
    if (options.abandonSend === true) {
      // A loop left behind sends and acks nothing more; one not in a send ends after its step (a read or
      // an ack: disk, bounded), which must finish before the outbox closes.
      const sending = this.sendInFlight;
      this.loopGeneration += 1;
      this.sendInFlight = false;
      if (!sending) await this.loop;
    } else {
      await this.loop;
    }
    this.loop = undefined;
    this.clearAckTimer();
    if (this.shippedThrough > this.options.outbox.ackedSeq) {
      // Lazy acks: record what was delivered, so a clean stop re-ships nothing.
      await this.options.outbox.ack(this.shippedThrough).catch((error: unknown) => {
        this.options.logger?.warn({ err: error }, 'outbox ack at shipper close failed; will re-ship');
      });
    }
    this.status = 'stopped';
    for (const waiter of [...this.flushWaiters]) waiter.resolve(false);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private async run(generation: number): Promise<void> {
    let batch: OutboxRecord[] | undefined;
    while (!this.stopping) {
      this.status = 'sending';
      try {
        if (this.ackDue()) await this.ackDelivered();
        if (batch === undefined) {
          await this.linger();
          this.newWork = false;
          batch = await this.options.outbox.read(this.shippedThrough, this.limits);
        }
        const last = batch[batch.length - 1];
        if (last === undefined) {
          batch = undefined;
          await this.idle();
          continue;
        }
        if (generation !== this.loopGeneration) return; // abandoned by close: send nothing more
        this.lastSendStartMs = this.clock.nowMs();
        await this.send(batch, generation);
        // Abandoned while sending: the outbox may be closed; the batch stays unacked and ships again.
        if (generation !== this.loopGeneration) return;
        if (this.ackIntervalMs === 0) await this.options.outbox.ack(last.seq);
        this.succeeded(last.seq, batch.length);
        batch = undefined;
      } catch (error: unknown) {
        if (generation !== this.loopGeneration) return;
        await this.failed(error);
      }
    }
  }

  private async send(batch: OutboxRecord[], generation: number): Promise<void> {
    this.sendInFlight = true;
    this.sendStartedAtMs = this.clock.nowMs();
    try {
      await this.options.transport.send(batch);
    } finally {
      if (generation === this.loopGeneration) this.sendInFlight = false;
    }
  }

  private async idle(): Promise<void> {
    if (this.newWork || this.stopping || this.ackDue()) return;
    this.status = 'idle';
    // A lazy ack still owed is due later: wake up for it (a commit or flush may wake us first).
    if (this.shippedThrough > this.options.outbox.ackedSeq && this.ackTimer === undefined) {
      const delayMs = Math.max(0, this.lastAckStartMs + this.ackIntervalMs - this.clock.nowMs());
      this.ackTimer = this.clock.setTimeout(() => {
        this.ackTimer = undefined;
        this.wakeUp();
      }, delayMs);
    }
    await new Promise<void>((resolve) => {
      this.wake = resolve;
    });
    // Busy from here on: the loop checks `ackDue` itself (the timer must not cut a later backoff short).
    this.clearAckTimer();
  }

  /** Waits (see `lingerMs`) unless a full batch is ready, a flush is waiting, or the shipper is stopping. */
  private async linger(): Promise<void> {
    if (this.lingerMs === 0 || this.stopping || this.flushWaiters.length > 0) return;
    const waitMs = this.lastSendStartMs + this.lingerMs - this.clock.nowMs();
    if (waitMs <= 0) return;
    if (!this.lingerWanted()) return;
    await new Promise<void>((resolve) => {
      const timer = this.clock.setTimeout(() => {
        this.lingerWake = undefined;
        resolve();
      }, waitMs);
      this.lingerWake = () => {
        this.clock.clearTimeout(timer);
        this.lingerWake = undefined;
        resolve();
      };
    });
  }

  /** Something is committed and unsent, but not a full batch (approximate: seqs may have gaps). */
  private lingerWanted(): boolean {
    const unsent = this.options.outbox.lastCommittedSeq - this.shippedThrough;
    return unsent > 0 && unsent < this.limits.maxRecords;
  }

  /** Lazy acks: something delivered is not acked yet, and the interval passed (or a flush waits for it). */
  private ackDue(): boolean {
    if (this.ackIntervalMs === 0 || this.shippedThrough <= this.options.outbox.ackedSeq) return false;
    return this.flushWaiters.length > 0 || this.clock.nowMs() - this.lastAckStartMs >= this.ackIntervalMs;
  }

  /** Lazy acks: acks everything delivered so far; rejects (→ backoff, then retried) when the ack fails. */
  private async ackDelivered(): Promise<void> {
    this.clearAckTimer();
    this.lastAckStartMs = this.clock.nowMs();
    const seq = this.shippedThrough;
    await this.options.outbox.ack(seq);
    this.resolveFlushWaiters(seq);
  }

  private clearAckTimer(): void {
    if (this.ackTimer === undefined) return;
    this.clock.clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
  }

  private succeeded(seq: number, records: number): void {
    this.shippedThrough = seq;
    this.shipped += records;
    this.failures = 0;
    this.lastError = undefined;
    // With lazy acks, flushes wait for the ack (`ackDelivered`), not just for the delivery.
    if (this.ackIntervalMs === 0) this.resolveFlushWaiters(seq);
  }

  private resolveFlushWaiters(ackedSeq: number): void {
    for (const waiter of [...this.flushWaiters]) {
      if (waiter.targetSeq <= ackedSeq) waiter.resolve(true);
    }
  }

  private async failed(error: unknown): Promise<void> {
    this.failures += 1;
    this.lastError = error instanceof Error ? error.message : String(error);
    const delayMs = backoffDelayMs(this.failures, this.backoff, this.options.random ?? Math.random);
    this.options.logger?.warn(
      { err: error, attempt: this.failures, retryInMs: delayMs },
      'outbox shipping failed; will retry',
    );
    if (this.stopping) return;
    this.status = 'backoff';
    // `wakeUp` (close, or a flush starting) cuts the wait short.
    await new Promise<void>((resolve) => {
      const timer = this.clock.setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, delayMs);
      this.wake = () => {
        this.clock.clearTimeout(timer);
        resolve();
      };
    });
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
