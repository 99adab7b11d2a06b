import { RouterError } from '@api-router/errors';

/** Most bytes of an unreadable 2xx body kept for the log. */
const UNREADABLE_EXCERPT_BYTES = 500;

/**
 * A backend's 2xx JSON body, parsed; undefined when it is not JSON. What the adapter then reads as a
 * completion (parseCompletion, or completionAsStream for a stream request answered with JSON): one test of
 * "is this a completion" for both.
 */
export function parseJsonBody(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined; // not JSON: no adapter reads a completion from it
  }
}

/** 502 upstream_error for a 2xx body that is not a completion (an error object in a 200, garbage). */
export function unreadableCompletion(raw: Buffer): RouterError {
  return new RouterError('upstream_error', {
    message: 'The model backend answered with an unreadable completion.',
    // Logged (by the error handler, or with a truncated stream's warning), never sent: the backend's words
    // (an error object in a 200) for the operator, bounded like an error status's excerpt.
    cause: new Error(`backend body: ${raw.toString('utf8', 0, UNREADABLE_EXCERPT_BYTES)}`),
  });
}
