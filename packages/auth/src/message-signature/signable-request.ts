import type { HeaderMap } from './header-map.js';

/**
 * A request as the signature code sees it: plain values, no framework objects. A fastify request maps onto
 * it directly (`method`, `url`, `headers`, raw body bytes).
 */
export interface SignableRequest {
  /** HTTP method exactly as sent (case-sensitive, RFC 9421 §2.2.1). */
  readonly method: string;
  /**
   * Request target exactly as sent: origin form (`/v1/chat/completions?x=1`, what fastify's `request.url`
   * holds) or absolute form (`https://router.example/v1/chat/completions?x=1`). The path and query are used
   * verbatim, never re-encoded, so sender and verifier must see the same bytes. No fragment (`#…`).
   */
  readonly url: string;
  readonly headers: HeaderMap;
  /** Exact body bytes (the Content-Digest covers them); undefined means an empty body. */
  readonly body?: Uint8Array | undefined;
  /**
   * Scheme for `@target-uri` and default-port removal in `@authority` when `url` is in origin form
   * (a TLS-terminating proxy in front of the router makes it unknowable otherwise). Default 'https'.
   */
  readonly scheme?: string | undefined;
}
