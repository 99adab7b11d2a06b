import { getFieldValue } from './header-map.js';
import type { RequestTarget } from './request-target.js';
import type { SignableRequest } from './signable-request.js';

/** Derived components (RFC 9421 §2.2) this implementation can cover. */
export const DERIVED_COMPONENTS = [
  '@method',
  '@target-uri',
  '@authority',
  '@scheme',
  '@path',
  '@query',
] as const;

export type ComponentValueResult =
  | { readonly ok: true; readonly value: string }
  /** `unsupported`: not a name we can derive; `absent`: a covered field the request does not carry. */
  | { readonly ok: false; readonly problem: 'unsupported' | 'absent' };

const FIELD_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
// The signature base is one line per component: a CR or LF inside a value could make two different
// requests produce the same base, and RFC 9421 §2.5 makes the base plain printable ASCII.
const BASE_SAFE_VALUE = /^[\t\x20-\x7e]*$/;

/**
 * The value of one covered component (a lower-case identifier without parameters) for the signature base.
 * Component parameters (`;sf`, `;key`, `;bs`, `;req`) are not supported; callers reject them beforehand.
 */
export function getComponentValue(
  name: string,
  request: SignableRequest,
  target: RequestTarget,
): ComponentValueResult {
  const value = name.startsWith('@') ? deriveComponent(name, request, target) : fieldComponent(name, request);
  if (value.ok && !BASE_SAFE_VALUE.test(value.value)) {
    return { ok: false, problem: 'unsupported' };
  }
  return value;
}

function fieldComponent(name: string, request: SignableRequest): ComponentValueResult {
  if (!FIELD_NAME.test(name)) {
    return { ok: false, problem: 'unsupported' };
  }
  const value = getFieldValue(request.headers, name);
  return value === undefined ? { ok: false, problem: 'absent' } : { ok: true, value };
}

function deriveComponent(
  name: string,
  request: SignableRequest,
  target: RequestTarget,
): ComponentValueResult {
  switch (name) {
    case '@method':
      // RFC 9421 §2.2.1: methods are case-sensitive and signed as sent, never case-folded.
      return { ok: true, value: request.method };
    case '@path':
      return { ok: true, value: target.path };
    case '@query':
      // RFC 9421 §2.2.7: an absent query is the lone "?".
      return { ok: true, value: `?${target.query ?? ''}` };
    case '@scheme':
      return { ok: true, value: target.scheme };
    case '@authority':
      return target.authority === undefined
        ? { ok: false, problem: 'absent' }
        : { ok: true, value: target.authority };
    case '@target-uri': {
      if (target.authority === undefined) {
        return { ok: false, problem: 'absent' };
      }
      const query = target.query === undefined ? '' : `?${target.query}`;
      return { ok: true, value: `${target.scheme}://${target.authority}${target.path}${query}` };
    }
    default:
      return { ok: false, problem: 'unsupported' };
  }
}
