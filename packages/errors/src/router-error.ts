import { ERROR_CATALOGUE, type ErrorCode } from './error-codes.js';

export interface RouterErrorOptions {
  /** Public message; defaults to the catalogue's. Never put secrets or internal detail here. */
  message?: string;
  /** Internal cause, logged but never sent to the client. */
  cause?: unknown;
  /** Seconds the client should wait before retrying (rendered as Retry-After). */
  retryAfterSeconds?: number;
  /** Extra public fields rendered with the error (e.g. which budget, what remains). */
  details?: Record<string, unknown>;
}

/** The one error type of the router: a code from the closed catalogue, a public message, an internal cause. */
export class RouterError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly retryAfterSeconds: number | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, options: RouterErrorOptions = {}) {
    const entry = ERROR_CATALOGUE[code];
    super(
      options.message ?? entry.message,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'RouterError';
    this.code = code;
    this.status = entry.status;
    this.retryable = entry.retryable;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.details = options.details;
  }
}

/** Any thrown value as a RouterError: RouterErrors pass through, everything else becomes `internal`. */
export function toRouterError(error: unknown): RouterError {
  if (error instanceof RouterError) return error;
  return new RouterError('internal', { cause: error });
}
