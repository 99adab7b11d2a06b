import type { IncomingHttpHeaders } from 'node:http';

/** What credential headers are replaced with: the header stays visible, its value does not. */
export const REDACTED_MARKER = '[redacted]';

/** Headers whose values are never returned by `GET /control/requests`. */
export const REDACTED_HEADERS: readonly string[] = [
  'authorization',
  'proxy-authorization',
  'x-api-key',
  'cookie',
];

/** One received request as returned by `GET /control/requests`. */
export interface RecordedRequest {
  method: string;
  /** Path with query string, as received. */
  url: string;
  /** Lower-case header names; credential values replaced by {@link REDACTED_MARKER}. */
  headers: Record<string, string | string[]>;
  /** Parsed JSON body, or null when there was none. */
  body: unknown;
  /** Receive time, ms since the epoch. */
  receivedAtMs: number;
}

export interface RequestRecorder {
  record(
    request: { method: string; url: string; headers: IncomingHttpHeaders; body: unknown },
    receivedAtMs: number,
  ): void;
  /** Recorded requests, oldest first. */
  list(): RecordedRequest[];
  clear(): void;
}

interface StoredRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: unknown;
  receivedAtMs: number;
}

/**
 * Keeps the last `limit` requests (0 records nothing). Recording only stores references; copying and
 * redaction happen when the list is read, so the serving path stays cheap.
 */
export function createRequestRecorder(limit: number): RequestRecorder {
  let stored: StoredRequest[] = [];
  let next = 0;
  return {
    record(request, receivedAtMs) {
      if (limit === 0) return;
      const entry = {
        method: request.method,
        url: request.url,
        headers: request.headers,
        body: request.body ?? null,
        receivedAtMs,
      };
      if (stored.length < limit) stored.push(entry);
      else stored[next] = entry;
      next = (next + 1) % limit;
    },
    list() {
      const ordered = stored.length < limit ? stored : [...stored.slice(next), ...stored.slice(0, next)];
      return ordered.map((entry) => ({ ...entry, headers: redactHeaders(entry.headers) }));
    },
    clear() {
      stored = [];
      next = 0;
    },
  };
}

function redactHeaders(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const copy: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    copy[name] = REDACTED_HEADERS.includes(name) ? REDACTED_MARKER : value;
  }
  return copy;
}
