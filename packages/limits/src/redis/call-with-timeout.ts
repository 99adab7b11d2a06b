import { LimitStoreUnavailableError } from '../limit-store-unavailable-error.js';

function isReplyError(error: unknown): boolean {
  return error instanceof Error && error.name === 'ReplyError';
}

/**
 * Runs one Redis call with a deadline. A dead or unreachable Redis never hangs the caller: after `timeoutMs`
 * (and the reply processing of that event loop turn) the call rejects with LimitStoreUnavailableError('timeout'), and every other failure becomes one too
 * (`reply` when Redis answered with an error, `connection` otherwise), with the original as its cause.
 */
export async function callWithTimeout<T>(
  operation: string,
  timeoutMs: number,
  call: () => Promise<T>,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let grace: NodeJS.Immediate | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      // Decide in the check phase, after the poll phase: when a busy event loop (not Redis) made the timer
      // late, a reply already waiting on the socket is read first and wins, instead of a spurious timeout.
      grace = setImmediate(() => {
        reject(new LimitStoreUnavailableError(operation, 'timeout'));
      });
    }, timeoutMs);
  });
  let pending: Promise<T> | undefined;
  try {
    pending = call();
    return await Promise.race([pending, deadline]);
  } catch (error: unknown) {
    if (error instanceof LimitStoreUnavailableError) {
      // The caller has its answer (timeout); a late result or failure of the abandoned call is dropped.
      pending?.catch(() => undefined);
      throw error;
    }
    throw new LimitStoreUnavailableError(operation, isReplyError(error) ? 'reply' : 'connection', {
      cause: error,
    });
  } finally {
    clearTimeout(timer);
    if (grace !== undefined) clearImmediate(grace);
  }
}
