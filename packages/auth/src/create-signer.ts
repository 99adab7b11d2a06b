import { randomBytes } from 'node:crypto';
import { DEFAULT_COVERED_COMPONENTS } from './message-signature/covered-components.js';
import { signRequest } from './message-signature/sign-request.js';

export interface SignerOptions {
  readonly keyId: string;
  /** Shared HMAC secret, raw bytes. */
  readonly secret: Uint8Array;
  /** Signature label. Default 'sig1'. */
  readonly label?: string;
  /** Covered components. Default: `@method`, `@path`, `@query`, `content-digest`. */
  readonly components?: readonly string[];
  /** Time source for `created`; `now()` in milliseconds since the epoch. Default: the system clock. */
  readonly clock?: { now(): number };
  /** Nonce source. Default: 16 random bytes, base64url. */
  readonly createNonce?: () => string;
}

/** An outgoing request as passed to `fetch` or undici's `request`. */
export interface OutgoingRequest {
  readonly method: string;
  /** Absolute URL. */
  readonly url: string | URL;
  readonly headers?: Readonly<Record<string, string>>;
  /** Exactly the bytes that will be sent; a string is sent (and digested) as UTF-8. */
  readonly body?: Uint8Array | string;
}

/** Returns the request's headers plus Content-Digest, Signature-Input and Signature. */
export type RequestSigner = (request: OutgoingRequest) => Record<string, string>;

/** The methods fetch (and Node's http client) upper-case before sending; any other is sent as given. */
const FETCH_NORMALISED_METHODS = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']);

/** The method as fetch puts it on the wire: `@method` is case-sensitive, so "post" must sign as "POST". */
function normaliseMethod(method: string): string {
  const upper = method.toUpperCase();
  return FETCH_NORMALISED_METHODS.has(upper) ? upper : method;
}

/**
 * The reference client signer. Each call signs once with a fresh nonce, so a retry must sign again:
 *
 * ```ts
 * const sign = createSigner({ keyId: 'partner-1', secret });
 * const headers = sign({ method: 'POST', url, headers: { 'content-type': 'application/json' }, body });
 * await fetch(url, { method: 'POST', headers, body });
 * ```
 *
 * The URL is normalised with WHATWG URL first, because that is the path and query fetch and undici put
 * on the wire; so is the method (fetch upper-cases delete, get, head, options, post and put). Throws a
 * TypeError for a relative URL, and for an empty query ("?") when `@target-uri` is covered.
 */
export function createSigner(options: SignerOptions): RequestSigner {
  const clock = options.clock ?? { now: () => Date.now() };
  const createNonce = options.createNonce ?? (() => randomBytes(16).toString('base64url'));
  const components = options.components ?? DEFAULT_COVERED_COMPONENTS;
  return (request) => {
    const url = new URL(request.url);
    url.hash = '';
    // "…/models?" goes out as "/models?" from curl and undici 7's fetch but as "/models" from Node 20's fetch
    // and undici's request(): no one @target-uri fits both. (@query is "?" either way.)
    if (url.search === '' && url.href.endsWith('?') && components.includes('@target-uri')) {
      throw new TypeError('cannot sign @target-uri of a URL with an empty query ("?"): remove the "?"');
    }
    const body = typeof request.body === 'string' ? Buffer.from(request.body, 'utf8') : request.body;
    const headers = { ...request.headers };
    const signature = signRequest(
      { method: normaliseMethod(request.method), url: url.href, headers, body },
      {
        keyId: options.keyId,
        secret: options.secret,
        label: options.label,
        components,
        created: Math.floor(clock.now() / 1000),
        nonce: createNonce(),
      },
    );
    for (const name of Object.keys(headers)) {
      if (name.toLowerCase() === 'content-digest') delete headers[name];
    }
    return { ...headers, ...signature };
  };
}
