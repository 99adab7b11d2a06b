import { randomBytes } from 'node:crypto';
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
 * on the wire. Throws a TypeError for a relative URL.
 */
export function createSigner(options: SignerOptions): RequestSigner {
  const clock = options.clock ?? { now: () => Date.now() };
  const createNonce = options.createNonce ?? (() => randomBytes(16).toString('base64url'));
  return (request) => {
    const url = new URL(request.url);
    url.hash = '';
    const body = typeof request.body === 'string' ? Buffer.from(request.body, 'utf8') : request.body;
    const headers = { ...request.headers };
    const signature = signRequest(
      { method: request.method, url: url.href, headers, body },
      {
        keyId: options.keyId,
        secret: options.secret,
        label: options.label,
        components: options.components,
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
