import { RouterError } from '@api-router/errors';
import type { UpstreamWholeBody } from './upstream-client.js';

/**
 * Backend statuses that say the request itself is wrong (too long a context, a parameter the model does
 * not take, a body too large for it): sending it again, or to another backend of the route, would get the
 * same answer. 401/403/404 (the router's credential or model mapping) and 408/409/429/5xx stay
 * upstream_error, which a client may retry.
 */
const REJECTED_REQUEST_STATUSES: ReadonlySet<number> = new Set([400, 413, 422]);

/** Most characters of the backend's message relayed to the client. */
const MAX_MESSAGE_CHARS = 500;
/** Most characters of the backend's `code` and `param` relayed. */
const MAX_FIELD_CHARS = 100;

/**
 * The 400 upstream_rejected a client gets for a backend's 400, 413 or 422, or undefined for other statuses.
 * The backend's reason is relayed because the client needs it to fix the request: the message of an
 * OpenAI-shaped (`{"error": {"message", "code", "param"}}`), vLLM-shaped (`{"message"}`) or FastAPI-shaped
 * (`{"detail": "…"}`) body, in one line and bounded; its string `code` goes in the message and
 * `details.upstream_code`, its `param` in `details.param` (OpenAI's `param`). Nothing else of the body is.
 */
export function rejectedRequestError(statusCode: number, body: UpstreamWholeBody): RouterError | undefined {
  if (!REJECTED_REQUEST_STATUSES.has(statusCode)) return undefined;
  const reason = body.ok ? backendReason(body.bytes) : {};
  const code = reason.code === undefined ? '' : `, ${reason.code}`;
  const said = reason.message === undefined ? '.' : `: ${reason.message}`;
  return new RouterError('upstream_rejected', {
    message: `The model backend refused the request (status ${statusCode}${code})${said}`,
    details: {
      upstream_status: statusCode,
      ...(reason.code === undefined ? {} : { upstream_code: reason.code }),
      ...(reason.param === undefined ? {} : { param: reason.param }),
    },
  });
}

interface BackendReason {
  message?: string;
  code?: string;
  param?: string;
}

function backendReason(bytes: Buffer): BackendReason {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    return {};
  }
  if (!isRecord(parsed)) return {};
  const error = isRecord(parsed.error) ? parsed.error : parsed;
  const text = error.message ?? (typeof parsed.error === 'string' ? parsed.error : parsed.detail);
  return {
    ...optional('message', oneLine(text, MAX_MESSAGE_CHARS)),
    ...optional('code', oneLine(error.code, MAX_FIELD_CHARS)),
    ...optional('param', oneLine(error.param, MAX_FIELD_CHARS)),
  };
}

function optional<K extends keyof BackendReason>(key: K, value: string | undefined): BackendReason {
  return value === undefined ? {} : { [key]: value };
}

/** A non-empty string as one line of printable text, cut to `max` characters (with "…"); else undefined. */
function oneLine(value: unknown, max: number): string | undefined {
  if (typeof value !== 'string') return undefined;
  // eslint-disable-next-line no-control-regex -- control characters are what is removed
  const line = value.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  if (line === '') return undefined;
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
