import type { IncomingHttpHeaders } from 'node:http';

/** Backend statuses whose Retry-After says when the backend takes requests again. */
const WAIT_STATUSES: ReadonlySet<number> = new Set([429, 503]);

/** Longest wait passed on: a backend's "come back tomorrow" would park a client's retries for a day. */
const MAX_RETRY_AFTER_SECONDS = 3600;

/**
 * The whole seconds a backend's 429 or 503 asks to wait (RFC 9110 §10.2.3: delta-seconds or an HTTP date),
 * capped at an hour; undefined for another status or a value that is neither. Passed on as the 502's
 * Retry-After, which the OpenAI SDKs honour when they retry it. A field sent more than once (a proxy adding
 * its own to the backend's) comes from undici as an array: the longest wait it states is taken.
 */
export function backendRetryAfterSeconds(
  statusCode: number,
  headers: IncomingHttpHeaders,
): number | undefined {
  if (!WAIT_STATUSES.has(statusCode)) return undefined;
  const value: unknown = headers['retry-after'];
  if (typeof value === 'string') return retryAfterSeconds(value);
  if (!Array.isArray(value)) return undefined;
  let longest: number | undefined;
  for (const line of value) {
    const seconds = typeof line === 'string' ? retryAfterSeconds(line) : undefined;
    if (seconds !== undefined && (longest === undefined || seconds > longest)) longest = seconds;
  }
  return longest;
}

/** One Retry-After value in whole seconds from now, capped; undefined when it is not one. */
function retryAfterSeconds(text: string): number | undefined {
  const value = text.trim();
  if (value === '') return undefined;
  let seconds: number;
  if (/^\d+$/.test(value)) {
    seconds = Number(value);
  } else {
    const at = Date.parse(value);
    if (Number.isNaN(at)) return undefined;
    seconds = Math.max(0, Math.ceil((at - Date.now()) / 1000));
  }
  return Math.min(seconds, MAX_RETRY_AFTER_SECONDS);
}
