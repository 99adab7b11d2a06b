import type { TimerHandle, Timers } from '../timers.js';

/**
 * The longest shutdown waits for the counted requests. Once the server is closed, what remains of them is
 * short: a cancelled upstream call, a settlement (one store call with its retries, ~3.6 s at the default
 * store timeout) and an outbox append. The bound is for a count that would never reach zero (a request path
 * that escaped both its handler and the onError hook): shutdown then goes on, with a warning, rather than
 * hanging for good.
 */
export const SHUTDOWN_PROCESSING_WAIT_MS = 10_000;

/** A request's own part of the count: whether it is still counted, so that its count ends exactly once. */
export interface CountedRequest {
  counted: boolean;
}

/**
 * Counts the inference API requests still being processed, from their first hook (onRequest) until
 * nothing more of theirs can be appended to the outbox, so that shutdown can wait for them between closing
 * the HTTP server and closing the outbox. The server's close waits for connections, not for processing, and
 * a request whose client left has no connection any more while its auth hook still has to append its
 * AUTH_DENIED event (401) or its handler its denial events or its usage record (499). It cannot even begin
 * to before the close is reported: Node reports the server closed on the tick after the last socket is
 * destroyed, and that socket's response emits `close` (which cancels the request) only later, from the
 * socket handle's close callback.
 *
 * A request's count ends once: when it is refused before its handler (`end`, from the routes' onError
 * hook), when its hooks are done and its handler appends nothing (`end`), or when its tracked handler's
 * promise settles (`track`; the handler taking over makes a later `end` a no-op).
 */
export class RunningRequests {
  #running = 0;
  #settled: (() => void)[] = [];
  readonly #finished = (): void => {
    this.#running -= 1;
    if (this.#running === 0) for (const resolve of this.#settled.splice(0)) resolve();
  };

  /** Counts `request` from now on; call once per request, from its first hook. */
  begin(request: CountedRequest): void {
    request.counted = true;
    this.#running += 1;
  }

  /** Ends the count of `request` if it is still counted (a no-op once ended or taken over by its handler). */
  end(request: CountedRequest): void {
    if (!request.counted) return;
    request.counted = false;
    this.#finished();
  }

  /** `handler`, which takes over its request's count (`countOf`) and ends it when its promise settles. */
  track<Request, Reply>(
    handler: (request: Request, reply: Reply) => Promise<unknown>,
    countOf: (request: Request) => CountedRequest,
  ): (request: Request, reply: Reply) => Promise<unknown> {
    return (request, reply) => {
      const count = countOf(request);
      if (!count.counted) return handler(request, reply);
      count.counted = false;
      // `finally`, not an async wrapper: no second suspended frame kept per request in flight.
      return handler(request, reply).finally(this.#finished);
    };
  }

  /**
   * Resolves once no counted request is being processed, or after `waitMs` at the latest, with how many
   * still were (0: all settled).
   */
  async settledWithin(timers: Timers, waitMs: number): Promise<number> {
    let timer: TimerHandle | undefined;
    const waited = new Promise<void>((resolve) => {
      timer = timers.setTimeout(resolve, waitMs);
    });
    await Promise.race([this.settled(), waited]);
    if (timer !== undefined) timers.clearTimeout(timer);
    return this.#running;
  }

  /** Resolves once no counted request is being processed (at once when none is). */
  settled(): Promise<void> {
    if (this.#running === 0) return Promise.resolve();
    return new Promise((resolve) => this.#settled.push(resolve));
  }
}
