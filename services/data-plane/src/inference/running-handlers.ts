/**
 * Counts the inference handlers still running, so that shutdown can wait for them between closing the HTTP
 * server and closing the outbox. The server's close waits for connections, not for handlers, and a request
 * whose client left has no connection any more while its handler still has to append its usage record
 * (499). It cannot even begin to before the close is reported: Node reports the server closed on
 * the tick after the last socket is destroyed, and that socket's response emits `close` (which cancels the
 * request) only later, from the socket handle's close callback.
 */
export class RunningHandlers {
  #running = 0;
  #settled: (() => void)[] = [];
  readonly #finished = (): void => {
    this.#running -= 1;
    if (this.#running === 0) for (const resolve of this.#settled.splice(0)) resolve();
  };

  /** `handler`, counted while its promise is pending. */
  track<Request, Reply>(
    handler: (request: Request, reply: Reply) => Promise<unknown>,
  ): (request: Request, reply: Reply) => Promise<unknown> {
    return (request, reply) => {
      this.#running += 1;
      // `finally`, not an async wrapper: no second suspended frame kept per request in flight.
      return handler(request, reply).finally(this.#finished);
    };
  }

  /** Resolves once no tracked handler is running (at once when none is). */
  settled(): Promise<void> {
    if (this.#running === 0) return Promise.resolve();
    return new Promise((resolve) => this.#settled.push(resolve));
  }
}
