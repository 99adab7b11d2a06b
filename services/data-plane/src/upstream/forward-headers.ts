import type { IncomingHttpHeaders } from 'node:http';

/** RFC 9110 §7.6.1 hop-by-hop fields, plus the legacy ones proxies still see. Never forwarded. */
export const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Client fields the router consumes or replaces: the client's credentials (API key, RFC 9421 signature and
 * its digest, cookies) are never forwarded, nor the fields that scope a credential (OpenAI's organization
 * and project, which the SDKs send from OPENAI_ORG_ID / OPENAI_PROJECT_ID and a backend checks against the
 * router's own credential); framing, tracing and identity fields are set by the router.
 */
export const CONSUMED_HEADERS: ReadonlySet<string> = new Set([
  'authorization',
  'x-api-key',
  'api-key',
  'openai-organization',
  'openai-project',
  'cookie',
  'signature',
  'signature-input',
  'content-digest',
  'host',
  'content-length',
  'content-type',
  'accept-encoding',
  'expect',
  'traceparent',
  'tracestate',
  'x-request-id',
]);

/** Both sets in one lookup: the header loop runs for every request. */
const NOT_FORWARDED: ReadonlySet<string> = new Set([...HOP_BY_HOP_HEADERS, ...CONSUMED_HEADERS]);

export interface UpstreamHeaderOptions {
  /** The backend's resolved credential, sent as `Authorization: Bearer …`; undefined sends none. */
  backendToken: string | undefined;
  /** W3C trace context for the upstream call (traceparent, optionally tracestate). */
  traceHeaders: Readonly<Record<string, string>>;
  requestId: string;
  /** What the router sends: JSON in, and SSE or JSON back. */
  accept: string;
}

/**
 * Headers of the upstream request: the client's end-to-end fields (so provider options such as
 * `openai-beta` or a test backend's fault headers pass through), minus hop-by-hop fields, fields named in
 * the client's Connection header, and everything in {@link CONSUMED_HEADERS}; plus the router's own.
 * Upstream responses are asked for without content coding, because the router reads usage from them.
 */
export function buildUpstreamHeaders(
  clientHeaders: IncomingHttpHeaders,
  options: UpstreamHeaderOptions,
): Record<string, string> {
  const connectionNamed = connectionTokens(clientHeaders.connection);
  const headers: Record<string, string> = {};
  for (const name in clientHeaders) {
    const value = clientHeaders[name];
    if (value === undefined || NOT_FORWARDED.has(name)) continue;
    if (connectionNamed?.has(name) === true) continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  headers['content-type'] = 'application/json';
  headers.accept = options.accept;
  headers['accept-encoding'] = 'identity';
  headers['x-request-id'] = options.requestId;
  Object.assign(headers, options.traceHeaders);
  if (options.backendToken !== undefined) headers.authorization = `Bearer ${options.backendToken}`;
  return headers;
}

/**
 * The field names a Connection header lists (lower-cased); undefined when there is no Connection header or
 * it is the common plain `keep-alive` (a hop-by-hop field already), which then needs no parsing.
 */
function connectionTokens(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined || value === 'keep-alive') return undefined;
  const tokens = new Set<string>();
  for (const line of Array.isArray(value) ? value : [value]) {
    for (const token of line.split(',')) {
      const name = token.trim().toLowerCase();
      if (name !== '') tokens.add(name);
    }
  }
  return tokens;
}
