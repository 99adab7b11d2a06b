import { LimitStoreUnavailableError } from '../limit-store-unavailable-error.js';

function isReplyError(error: unknown): boolean {
  return error instanceof Error && error.name === 'ReplyError';
}

/** A call still waiting for its answer or its deadline; `reject` is cleared once it has one. */
interface PendingCall {
  readonly deadlineMs: number;
  readonly operation: string;
  reject: ((error: Error) => void) | undefined;
}

/**
 * Runs Redis calls with one deadline each. A dead or unreachable Redis never hangs the caller: after
 * `timeoutMs` (and the reply processing of that event loop turn) the call rejects with
 * LimitStoreUnavailableError('timeout'), and every other failure becomes one too (`reply` when Redis
 * answered with an error, `connection` otherwise), with the original as its cause.
 *
 * Every call has the same timeout, so deadlines come in call order: the calls wait in one FIFO under one
 * timer (armed for the oldest deadline), instead of a timer, a deadline promise and a race per call. The
 * timer keeps the process alive only while some call has no answer yet.
 */
export class CallDeadlines {
  readonly #timeoutMs: number;
  readonly #pending: PendingCall[] = [];
  /** Index of the oldest entry of #pending not yet dropped. */
  #head = 0;
  /** Calls without an answer yet. */
  #open = 0;
  #timer: NodeJS.Timeout | undefined;
  #expiring = false;

  constructor(timeoutMs: number) {
    if (!(timeoutMs > 0)) throw new RangeError('timeoutMs must be > 0');
    this.#timeoutMs = timeoutMs;
  }

  run<T>(operation: string, call: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: PendingCall = { deadlineMs: performance.now() + this.#timeoutMs, operation, reject };
      this.#add(entry);
      const answered = (): boolean => {
        if (entry.reject === undefined) return false; // timed out already: a late answer is dropped
        entry.reject = undefined;
        this.#settled();
        return true;
      };
      const failed = (error: unknown): void => {
        if (!answered()) return;
        const failure = isReplyError(error) ? 'reply' : 'connection';
        reject(new LimitStoreUnavailableError(operation, failure, { cause: error }));
      };
      let pending: Promise<T>;
      try {
        pending = call();
      } catch (error: unknown) {
        failed(error);
        return;
      }
      pending.then((value) => {
        if (answered()) resolve(value);
      }, failed);
    });
  }

  #add(entry: PendingCall): void {
    this.#pending.push(entry);
    this.#open += 1;
    if (this.#timer === undefined) {
      if (!this.#expiring) this.#arm(this.#timeoutMs);
    } else if (this.#open === 1) {
      this.#timer.ref();
    }
  }

  #settled(): void {
    this.#open -= 1;
    if (this.#open === 0) this.#timer?.unref();
  }

  #arm(delayMs: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#expiring = true;
      // Decide in the check phase, after the poll phase: when a busy event loop (not Redis) made the timer
      // late, a reply already waiting on the socket is read first and wins, instead of a spurious timeout.
      setImmediate(() => {
        this.#expiring = false;
        this.#expire();
      });
    }, delayMs);
    if (this.#open === 0) this.#timer.unref();
  }

  /** Rejects every unanswered call past its deadline, drops answered ones, re-arms for the next deadline. */
  #expire(): void {
    const nowMs = performance.now();
    const pending = this.#pending;
    let head = this.#head;
    while (head < pending.length) {
      const entry = pending[head]!;
      const reject = entry.reject;
      if (reject !== undefined) {
        if (entry.deadlineMs > nowMs) break;
        entry.reject = undefined;
        this.#open -= 1;
        reject(new LimitStoreUnavailableError(entry.operation, 'timeout'));
      }
      head += 1;
    }
    if (head === pending.length) {
      pending.length = 0;
      head = 0;
    } else if (head > 1024 && head * 2 > pending.length) {
      pending.splice(0, head);
      head = 0;
    }
    this.#head = head;
    const next = pending[head];
    if (next !== undefined) this.#arm(Math.max(1, Math.ceil(next.deadlineMs - nowMs)));
  }
}
