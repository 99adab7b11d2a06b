/**
 * What the request path reads of a request's cancellation (deadline passed, client gone): whether and why it
 * was cancelled, and a listener for the moment it is. A DOM AbortSignal fits this shape; so does the
 * router's RequestSignal, which exists because creating an AbortController + AbortSignal per request cost
 * ~3 µs of the data plane's CPU (EventTarget set-up) while most requests are never cancelled and only one
 * API on the path (undici's request(), for streams) needs a real AbortSignal: {@link toAbortSignal}.
 */
export interface CancelSignal {
  readonly aborted: boolean;
  /** Why it was cancelled; undefined while not aborted. */
  readonly reason: unknown;
  /** `listener` runs once, when the signal aborts (not if it already has: check `aborted` first). */
  addEventListener(type: 'abort', listener: () => void): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** A real AbortSignal following `signal` (the same object when it is one), for APIs that need one. */
export function toAbortSignal(signal: CancelSignal): AbortSignal {
  if (signal instanceof AbortSignal) return signal;
  const controller = new AbortController();
  if (signal.aborted) controller.abort(signal.reason);
  else signal.addEventListener('abort', () => controller.abort(signal.reason));
  return controller.signal;
}
