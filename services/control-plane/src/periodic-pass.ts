/**
 * Runs `pass` at once on start() and then `intervalMs` after each pass has ended, one pass at a time, until
 * close(), which resolves once a running pass has finished. The timer never keeps the process alive: the
 * owner closes it on shutdown. Used by the control plane's background jobs (budget change reconciler,
 * record pruner); a pass must not reject.
 *
 * States: `idle` → start() → `running` → close() → `closed`.
 */
export class PeriodicPass {
  readonly #pass: () => Promise<unknown>;
  readonly #intervalMs: number;
  #state: 'idle' | 'running' | 'closed' = 'idle';
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;

  constructor(pass: () => Promise<unknown>, intervalMs: number) {
    this.#pass = pass;
    this.#intervalMs = intervalMs;
  }

  state(): 'idle' | 'running' | 'closed' {
    return this.#state;
  }

  start(): void {
    if (this.#state !== 'idle') return;
    this.#state = 'running';
    this.#schedule(0);
  }

  async close(): Promise<void> {
    this.#state = 'closed';
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  #schedule(delayMs: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#running = this.#pass().then(() => {
        this.#running = undefined;
        if (this.#state === 'running') this.#schedule(this.#intervalMs);
      });
    }, delayMs);
    this.#timer.unref();
  }
}
