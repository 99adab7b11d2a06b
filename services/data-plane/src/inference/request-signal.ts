import { RouterError } from '@api-router/errors';
import type { CancelSignal } from '../cancel-signal.js';
import type { TimerHandle, Timers } from '../timers.js';

/**
 * Status of a request whose client left before it was answered (nginx's convention): in its usage record
 * and its access log line. Nothing is sent: nobody is left to read it.
 */
export const CLIENT_CLOSED_STATUS = 499;

/** The reason a request's signal aborts when the client goes away (nobody is left to answer). */
export class ClientClosedError extends Error {
  constructor() {
    super('The client closed the connection.');
    this.name = 'ClientClosedError';
  }
}

/**
 * Cancellation of one request's upstream work: the request deadline, or the client leaving. It is a
 * CancelSignal itself (no AbortController per request; see cancel-signal.ts).
 */
export interface RequestSignal extends CancelSignal {
  /** Aborts with a ClientClosedError (no-op once aborted). */
  clientClosed(): void;
  /** Milliseconds left before the deadline (never negative), by the injected clock. */
  remainingMs(): number;
  /** Stops the deadline timer; call when the request is over. */
  dispose(): void;
}

export interface RequestSignalDeps {
  timers: Timers;
  /** Monotonic milliseconds. */
  now: () => number;
  /** Counts each abort by its reason (`router_upstream_aborts_total`); absent, aborts are not counted. */
  metrics?: {
    readonly upstreamAbortsTotal: { inc(labels: { reason: 'client_disconnect' | 'deadline' }): void };
  };
}

/**
 * A signal that aborts at `deadlineMs` (monotonic) with RouterError('upstream_timeout') or earlier with a
 * ClientClosedError. Abort reasons are what the pipeline rethrows, so a deadline becomes a 504. The abort
 * is counted by the signal itself (`deps.metrics`), not by a listener: a listener is a closure and an
 * array entry per request, kept through every scavenge while the request is in flight.
 */
export function createRequestSignal(deps: RequestSignalDeps, deadlineMs: number): RequestSignal {
  return new DeadlineSignal(deps, deadlineMs);
}

class DeadlineSignal implements RequestSignal {
  readonly #deps: RequestSignalDeps;
  readonly #deadlineMs: number;
  readonly #timer: TimerHandle;
  #listeners: (() => void)[] = [];
  aborted = false;
  reason: unknown = undefined;

  constructor(deps: RequestSignalDeps, deadlineMs: number) {
    this.#deps = deps;
    this.#deadlineMs = deadlineMs;
    this.#timer = deps.timers.setTimeout(
      () => {
        this.#abort(
          new RouterError('upstream_timeout', {
            message: 'The request deadline passed before the backend finished.',
          }),
        );
      },
      Math.max(0, deadlineMs - deps.now()),
    );
  }

  addEventListener(_type: 'abort', listener: () => void): void {
    if (!this.aborted) this.#listeners.push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const index = this.#listeners.indexOf(listener);
    if (index !== -1) this.#listeners.splice(index, 1);
  }

  clientClosed(): void {
    this.#abort(new ClientClosedError());
  }

  remainingMs(): number {
    return Math.max(0, this.#deadlineMs - this.#deps.now());
  }

  dispose(): void {
    this.#deps.timers.clearTimeout(this.#timer);
  }

  /**
   * Like AbortController.abort: once; every listener runs. A listener that throws is a bug: as with an
   * EventTarget, its error is re-thrown on the next tick (an uncaught exception), not into the caller.
   */
  #abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.#deps.metrics?.upstreamAbortsTotal.inc({
      reason: reason instanceof ClientClosedError ? 'client_disconnect' : 'deadline',
    });
    const listeners = this.#listeners;
    this.#listeners = [];
    for (const listener of listeners) {
      try {
        listener();
      } catch (error: unknown) {
        process.nextTick(() => {
          throw error;
        });
      }
    }
  }
}
