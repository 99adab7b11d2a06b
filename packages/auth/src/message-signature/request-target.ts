import { getFieldValue, trimFieldWhitespace } from './header-map.js';
import type { SignableRequest } from './signable-request.js';

/** The parts of a request target that derived components are built from. */
export interface RequestTarget {
  /** Lower-case scheme without "://". */
  readonly scheme: string;
  /** Lower-case host plus a non-default port; undefined when neither the URL nor a Host field names one. */
  readonly authority: string | undefined;
  /**
   * The path as sent, never decoded or normalised; "/" only for an absolute-form URL with an empty path
   * (RFC 9421 §2.2.6). An origin-form target has no empty path to fill: "?" is not "/", so it must not sign
   * the same as "/".
   */
  readonly path: string;
  /** Query without the leading "?"; undefined when the target has no "?". */
  readonly query: string | undefined;
}

const ABSOLUTE_FORM = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)(.*)$/s;
const DEFAULT_PORTS: Readonly<Record<string, string>> = { http: '80', https: '443' };

/**
 * Splits `request.url` without a URL parser: WHATWG URL would re-encode and resolve dot segments, and the
 * signature must cover what was actually sent. The authority comes from an absolute URL, else from the
 * Host (or HTTP/2 `:authority`) field.
 */
export function parseRequestTarget(request: SignableRequest): RequestTarget {
  let scheme = (request.scheme ?? 'https').toLowerCase();
  let rawAuthority: string | undefined;
  let rest = request.url;
  const absolute = ABSOLUTE_FORM.exec(request.url);
  if (absolute !== null) {
    scheme = (absolute[1] ?? scheme).toLowerCase();
    rawAuthority = stripUserInfo(absolute[2] ?? '');
    rest = absolute[3] ?? '';
  } else {
    rawAuthority = getFieldValue(request.headers, ':authority') ?? getFieldValue(request.headers, 'host');
  }
  // A "#" is not stripped: fragments never reach the server, so one in `url` is a caller bug, and signing
  // it literally makes the signature fail instead of silently covering less than the caller passed.
  const queryIndex = rest.indexOf('?');
  const path = queryIndex === -1 ? rest : rest.slice(0, queryIndex);
  const query = queryIndex === -1 ? undefined : rest.slice(queryIndex + 1);
  return {
    scheme,
    authority:
      rawAuthority === undefined || rawAuthority === ''
        ? undefined
        : normaliseAuthority(rawAuthority, scheme),
    path: path === '' && absolute !== null ? '/' : path,
    query,
  };
}

function stripUserInfo(authority: string): string {
  const atIndex = authority.lastIndexOf('@');
  return atIndex === -1 ? authority : authority.slice(atIndex + 1);
}

/** RFC 9110 §4.2.3 normalisation, which RFC 9421 §2.2.3 requires: lower-case host, no default port. */
function normaliseAuthority(authority: string, scheme: string): string {
  const lower = trimFieldWhitespace(authority).toLowerCase();
  const portMatch = /:(\d*)$/.exec(lower);
  if (portMatch === null || lower.endsWith(']')) {
    return lower;
  }
  const port = portMatch[1] ?? '';
  const host = lower.slice(0, portMatch.index);
  return port === '' || port === DEFAULT_PORTS[scheme] ? host : lower;
}
