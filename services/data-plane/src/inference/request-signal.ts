import { RouterError } from '@api-router/errors';
import type { TimerHandle, Timers } from '../timers.js';

/** The reason a request's signal aborts when the client goes away (nobody is left to answer). */
export class ClientClosedError extends Error {
  constructor() {
    super('The client closed the connection.');
    this.name = 'ClientClosedError';
  }
}

/** Cancellation of one request's upstream work: the request deadline, or the client leaving. */
export interface RequestSignal {
  readonly signal: AbortSignal;
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
}

/**
 * A signal that aborts at `deadlineMs` (monotonic) with RouterError('upstream_timeout') or earlier with a
 * ClientClosedError. Abort reasons are what the pipeline rethrows, so a deadline becomes a 504.
 */
export function createRequestSignal(deps: RequestSignalDeps, deadlineMs: number): RequestSignal {
  const controller = new AbortController();
  const timeoutMs = Math.max(0, deadlineMs - deps.now());
  const timer: TimerHandle = deps.timers.setTimeout(() => {
    controller.abort(
      new RouterError('upstream_timeout', {
        message: 'The request deadline passed before the backend finished.',
      }),
    );
  }, timeoutMs);
  return {
    signal: controller.signal,
    clientClosed() {
      if (!controller.signal.aborted) controller.abort(new ClientClosedError());
    },
    remainingMs: () => Math.max(0, deadlineMs - deps.now()),
    dispose: () => deps.timers.clearTimeout(timer),
  };
}
