/** Why a store call failed: no answer in time, no connection, or Redis answered with an error. */
export type LimitStoreFailure = 'timeout' | 'connection' | 'reply';

/**
 * A limit store could not give an answer. The caller decides what that means per policy: rate limits may fail
 * open (to a conservative local share) or closed; budgets fail closed (503 `dependency_unavailable`, never 402).
 *
 * After a `timeout` the command may still run on Redis later; an admission that did so leaves a reservation
 * nobody settles, which expires after its `reservationTtlMs` like any orphan.
 */
export class LimitStoreUnavailableError extends Error {
  readonly operation: string;
  readonly failure: LimitStoreFailure;

  constructor(operation: string, failure: LimitStoreFailure, options: { cause?: unknown } = {}) {
    super(
      `Limit store ${operation} failed: ${failure}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'LimitStoreUnavailableError';
    this.operation = operation;
    this.failure = failure;
  }
}
