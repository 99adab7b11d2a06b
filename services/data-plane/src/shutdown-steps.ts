import type { Logger } from '@api-router/observability';

/**
 * Runs the steps of a shutdown in order, each one even when an earlier one failed: a policy channel that
 * throws on close must not leave the outbox unclosed (its unsynced records never fdatasynced), background
 * settlements unawaited (their reservations left to expire) or Redis and the upstream pools open. Each
 * failure is logged with its step; `finish` rethrows the first, so the process still exits 1.
 */
export class ShutdownSteps {
  readonly #logger: Pick<Logger, 'error'>;
  #failure: { readonly error: unknown } | undefined;

  constructor(logger: Pick<Logger, 'error'>) {
    this.#logger = logger;
  }

  /** Runs `action` (named `step` in the log), recording its failure instead of throwing it. */
  async run(step: string, action: () => unknown): Promise<void> {
    try {
      await action();
    } catch (error: unknown) {
      this.#logger.error({ err: error, step }, 'shutdown step failed');
      this.#failure ??= { error };
    }
  }

  /** Throws the first failure of the steps run, if any. */
  finish(): void {
    if (this.#failure !== undefined) throw this.#failure.error;
  }
}
