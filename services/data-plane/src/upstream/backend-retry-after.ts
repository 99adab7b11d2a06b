import type { IncomingHttpHeaders } from 'node:http';

/** Backend statuses whose Retry-After says when the backend takes requests again. */
const WAIT_STATUSES: ReadonlySet<number> = new Set([429, 503]);

/** Longest wait passed on: a backend's "come back tomorrow" would park a client's retries for a day. */
const MAX_RETRY_AFTER_SECONDS = 3600;

/**
 * The whole seconds a backend's 429 or 503 asks to wait (RFC 9110 §10.2.3: delta-seconds or an HTTP date),
 * capped at an hour; undefined for another status or a value that is neither. Passed on as the 502's
 * Retry-After, which the OpenAI SDKs honour when they retry it.
 */
export function backendRetryAfterSeconds(
  statusCode: number,
  headers: IncomingHttpHeaders,
): number | undefined {
  if (!WAIT_STATUSES.has(statusCode)) return undefined;
  const value = headers['retry-after']?.trim();
  if (value === undefined || value === '') return undefined;
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
