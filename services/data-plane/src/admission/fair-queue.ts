import type { TimerHandle, Timers } from '../timers.js';
import { type CancelSignal } from '../cancel-signal.js';

/**
 * One try of a waiting request: admitted (`done`, with whatever the try produced), or still blocked —
 * optionally by another limit than before (`limitId`: the request now waits for that one).
 */
export type QueueAttempt<T> =
  { readonly done: true; readonly value: T } | { readonly done: false; readonly limitId?: string };

/** A request that waits for a concurrency slot. */
export interface QueueEntry<T> {
  readonly tenantId: string;
  readonly keyId: string;
  /**
   * The concurrency limit the request waits for (its check id). While a request waits for a limit, new
   * requests for that limit queue behind it instead of trying the store (see `waitingFor`).
   */
  readonly limitId: string;
  /** Most waiting requests of the tenant (undefined: the tenant sets no bound). */
  readonly tenantMaxLength: number | undefined;
  /** Most waiting requests of the key (undefined: the key sets no bound). */
  readonly keyMaxLength: number | undefined;
  /** Longest wait in milliseconds; then the outcome is `timed_out`. */
  readonly maxWaitMs: number;
  /** The request's signal: the client leaving (or the deadline) takes the request out of the queue. */
  readonly signal: CancelSignal;
  /** Tries to admit the request again. A rejection ends the wait with `failed`. */
  readonly attempt: () => Promise<QueueAttempt<T>>;
  /** Receives a value an attempt produced after the request had already left (to release it). */
  readonly discard: (value: T) => void;
}

/** The fields of an entry that decide whether the queue has room for it. */
export type QueueBounds = Pick<
  QueueEntry<unknown>,
  'tenantId' | 'keyId' | 'tenantMaxLength' | 'keyMaxLength'
>;

/** How a wait ended. `waitedMs` is monotonic time spent in the queue. */
export type QueueOutcome<T> =
  | { readonly kind: 'admitted'; readonly value: T; readonly waitedMs: number }
  | { readonly kind: 'full'; readonly bound: 'tenant' | 'key' | 'replica' }
  | { readonly kind: 'timed_out'; readonly waitedMs: number }
  | { readonly kind: 'aborted'; readonly reason: unknown; readonly waitedMs: number }
  | { readonly kind: 'failed'; readonly error: unknown; readonly waitedMs: number }
  | { readonly kind: 'closed'; readonly waitedMs: number };

export interface FairQueueOptions {
  readonly timers: Timers;
  /** Monotonic milliseconds. */
  readonly now: () => number;
  /** Uniform in [0, 1): jitter of the retry interval. */
  readonly random: () => number;
  /** Retry interval bounds in ms: every waiter is retried after a uniformly random delay in [min, max]. */
  readonly retryIntervalMs: { readonly min: number; readonly max: number };
  /** Most waiting requests on this replica, all tenants together (a memory bound independent of policy). */
  readonly maxLength: number;
}

interface Waiter<T> {
  readonly entry: QueueEntry<T>;
  readonly keySlot: string;
  readonly enqueuedAtMs: number;
  readonly resolve: (outcome: QueueOutcome<T>) => void;
  limitId: string;
  timer: TimerHandle | undefined;
  onAbort: (() => void) | undefined;
  inFlight: boolean;
  /** A slot of the tenant freed while this request's try was in flight (its answer may predate the slot). */
  wokenInFlight: boolean;
  ended: boolean;
}

/**
 * The bounded per-tenant fair queue of requests denied by concurrency alone. Each tenant has a FIFO queue;
 * tenants are served round-robin: every retry round starts with the next tenant in turn and tries, per
 * tenant, the oldest waiting request of each key (a key at its own limit does not block the tenant's other
 * keys). Retries happen when this replica frees a slot of the tenant (`slotFreed`) and on a jittered timer,
 * since slots also free on other replicas. Retries of one round are started in queue order, so the store
 * sees the oldest request first and a slot freed on this replica goes to the oldest request that can use it.
 * The queue also knows which limits have waiting requests (`waitingFor`): admission queues a new request
 * for such a limit behind them instead of letting it try the store first and take the slot. A request
 * leaves admitted, timed out after its max wait, or when its signal aborts; a full queue (tenant, key or
 * replica bound) answers `full` at once. Stateful: `close()` ends every wait with `closed`.
 */
export class FairQueue<T> {
  readonly #options: FairQueueOptions;
  readonly #tenants = new Map<string, Waiter<T>[]>();
  readonly #keyCounts = new Map<string, number>();
  /** Waiting requests per limit id they wait for. */
  readonly #limitCounts = new Map<string, number>();
  #length = 0;
  #rotation = 0;
  #tick: TimerHandle | undefined;
  #closed = false;

  constructor(options: FairQueueOptions) {
    this.#options = options;
  }

  /** Requests waiting on this replica. */
  get length(): number {
    return this.#length;
  }

  /**
   * The first of `limitIds` some request on this replica waits for, or undefined. A new request for that
   * limit must queue behind the waiting ones (FIFO) rather than try the store.
   */
  waitingFor(limitIds: Iterable<string>): string | undefined {
    if (this.#limitCounts.size === 0) return undefined;
    for (const limitId of limitIds) {
      if (this.#limitCounts.has(limitId)) return limitId;
    }
    return undefined;
  }

  /** Waits for admission; never rejects (failures are outcomes). */
  wait(entry: QueueEntry<T>): Promise<QueueOutcome<T>> {
    const full = this.fullBound(entry);
    if (full !== undefined) return Promise.resolve({ kind: 'full', bound: full });
    const enqueuedAtMs = this.#options.now();
    if (this.#closed) return Promise.resolve({ kind: 'closed', waitedMs: 0 });
    if (entry.signal.aborted) {
      const reason: unknown = entry.signal.reason;
      return Promise.resolve({ kind: 'aborted', reason, waitedMs: 0 });
    }
    return new Promise<QueueOutcome<T>>((resolve) => {
      const waiter: Waiter<T> = {
        entry,
        keySlot: `${entry.tenantId}\u0000${entry.keyId}`,
        enqueuedAtMs,
        resolve,
        limitId: entry.limitId,
        timer: undefined,
        onAbort: undefined,
        inFlight: false,
        wokenInFlight: false,
        ended: false,
      };
      this.#add(waiter);
      waiter.timer = this.#options.timers.setTimeout(
        () => this.#end(waiter, { kind: 'timed_out', waitedMs: this.#waited(waiter) }),
        entry.maxWaitMs,
      );
      waiter.onAbort = () =>
        this.#end(waiter, { kind: 'aborted', reason: entry.signal.reason, waitedMs: this.#waited(waiter) });
      entry.signal.addEventListener('abort', waiter.onAbort);
      this.#scheduleTick();
    });
  }

  /** A slot of `tenantId` was freed on this replica: retry that tenant's waiting requests now. */
  slotFreed(tenantId: string): void {
    const waiters = this.#tenants.get(tenantId);
    if (waiters !== undefined) this.#tryHeads(waiters, true);
  }

  /** Ends every wait with `closed` and stops the timer. Attempts still in flight are discarded when they end. */
  close(): void {
    this.#closed = true;
    if (this.#tick !== undefined) this.#options.timers.clearTimeout(this.#tick);
    this.#tick = undefined;
    for (const waiters of [...this.#tenants.values()]) {
      for (const waiter of [...waiters])
        this.#end(waiter, { kind: 'closed', waitedMs: this.#waited(waiter) });
    }
  }

  /** Which bound a new entry would exceed right now (undefined: it would be queued). */
  fullBound(entry: QueueBounds): 'tenant' | 'key' | 'replica' | undefined {
    if (this.#length >= this.#options.maxLength) return 'replica';
    const tenantLength = this.#tenants.get(entry.tenantId)?.length ?? 0;
    if (entry.tenantMaxLength !== undefined && tenantLength >= entry.tenantMaxLength) return 'tenant';
    const keyLength = this.#keyCounts.get(`${entry.tenantId}\u0000${entry.keyId}`) ?? 0;
    if (entry.keyMaxLength !== undefined && keyLength >= entry.keyMaxLength) return 'key';
    return undefined;
  }

  #add(waiter: Waiter<T>): void {
    let waiters = this.#tenants.get(waiter.entry.tenantId);
    if (waiters === undefined) {
      waiters = [];
      this.#tenants.set(waiter.entry.tenantId, waiters);
    }
    waiters.push(waiter);
    this.#keyCounts.set(waiter.keySlot, (this.#keyCounts.get(waiter.keySlot) ?? 0) + 1);
    this.#countLimit(waiter.limitId, 1);
    this.#length += 1;
  }

  #countLimit(limitId: string, delta: 1 | -1): void {
    const count = (this.#limitCounts.get(limitId) ?? 0) + delta;
    if (count <= 0) this.#limitCounts.delete(limitId);
    else this.#limitCounts.set(limitId, count);
  }

  #end(waiter: Waiter<T>, outcome: QueueOutcome<T>): void {
    if (waiter.ended) return;
    waiter.ended = true;
    if (waiter.timer !== undefined) this.#options.timers.clearTimeout(waiter.timer);
    if (waiter.onAbort !== undefined) waiter.entry.signal.removeEventListener('abort', waiter.onAbort);
    const waiters = this.#tenants.get(waiter.entry.tenantId);
    const index = waiters?.indexOf(waiter) ?? -1;
    if (waiters !== undefined && index >= 0) {
      waiters.splice(index, 1);
      if (waiters.length === 0) this.#tenants.delete(waiter.entry.tenantId);
      const keyCount = (this.#keyCounts.get(waiter.keySlot) ?? 1) - 1;
      if (keyCount === 0) this.#keyCounts.delete(waiter.keySlot);
      else this.#keyCounts.set(waiter.keySlot, keyCount);
      this.#countLimit(waiter.limitId, -1);
      this.#length -= 1;
    }
    waiter.resolve(outcome);
  }

  /** A waiting request is now blocked by another limit. */
  #waitFor(waiter: Waiter<T>, limitId: string): void {
    if (limitId === waiter.limitId) return;
    this.#countLimit(waiter.limitId, -1);
    waiter.limitId = limitId;
    this.#countLimit(limitId, 1);
  }

  #waited(waiter: Waiter<T>): number {
    return Math.max(0, this.#options.now() - waiter.enqueuedAtMs);
  }

  #scheduleTick(): void {
    if (this.#tick !== undefined || this.#closed || this.#length === 0) return;
    const { min, max } = this.#options.retryIntervalMs;
    const delayMs = min + Math.floor(this.#options.random() * (max - min + 1));
    this.#tick = this.#options.timers.setTimeout(() => {
      this.#tick = undefined;
      this.#round();
      this.#scheduleTick();
    }, delayMs);
  }

  /** One retry of every tenant, starting with the next tenant in turn. */
  #round(): void {
    const queues = [...this.#tenants.values()];
    if (queues.length === 0) return;
    const start = this.#rotation % queues.length;
    this.#rotation = (this.#rotation + 1) % Number.MAX_SAFE_INTEGER;
    for (let offset = 0; offset < queues.length; offset += 1) {
      const waiters = queues[(start + offset) % queues.length];
      if (waiters !== undefined) this.#tryHeads(waiters, false);
    }
  }

  /**
   * Tries the oldest waiting request of each key of one tenant (one attempt in flight per key). `woken`: a
   * slot of the tenant was freed on this replica; a key whose try is in flight is tried again once it ends,
   * and younger requests waiting for the same limit wait for that (the slot is the oldest request's).
   */
  #tryHeads(waiters: readonly Waiter<T>[], woken: boolean): void {
    const seen = new Set<string>();
    const heldFor = new Set<string>();
    for (const waiter of [...waiters]) {
      if (seen.has(waiter.keySlot)) continue;
      seen.add(waiter.keySlot);
      if (heldFor.has(waiter.limitId)) continue;
      if (woken && waiter.inFlight) heldFor.add(waiter.limitId);
      this.#try(waiter, woken);
    }
  }

  #try(waiter: Waiter<T>, woken: boolean): void {
    if (waiter.ended) return;
    if (waiter.inFlight) {
      if (woken) waiter.wokenInFlight = true;
      return;
    }
    waiter.inFlight = true;
    // An attempt that throws synchronously ends the wait like one that rejects.
    const attempt = new Promise<QueueAttempt<T>>((resolve) => {
      resolve(waiter.entry.attempt());
    });
    attempt.then(
      (result) => {
        waiter.inFlight = false;
        if (!result.done) {
          if (result.limitId !== undefined && !waiter.ended) this.#waitFor(waiter, result.limitId);
        } else if (waiter.ended) waiter.entry.discard(result.value);
        else this.#end(waiter, { kind: 'admitted', value: result.value, waitedMs: this.#waited(waiter) });
        this.#retryWoken(waiter);
      },
      (error: unknown) => {
        waiter.inFlight = false;
        this.#end(waiter, { kind: 'failed', error, waitedMs: this.#waited(waiter) });
        this.#retryWoken(waiter);
      },
    );
  }

  /** The wake-up a try in flight could not act on: the tenant's waiting requests are tried once more. */
  #retryWoken(waiter: Waiter<T>): void {
    if (!waiter.wokenInFlight) return;
    waiter.wokenInFlight = false;
    const waiters = this.#tenants.get(waiter.entry.tenantId);
    if (waiters !== undefined) this.#tryHeads(waiters, false);
  }
}
