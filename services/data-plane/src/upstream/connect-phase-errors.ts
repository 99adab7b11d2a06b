import { buildConnector } from 'undici';

/**
 * Errors a pool's connector reported: the connection (TCP connect, DNS lookup, TLS handshake) was never
 * established, so no byte of any request was written on it. undici hands that very error object to every
 * request queued for the connection (client.js, handleConnectError), so it identifies them.
 *
 * The phase decides, not the error code: the same code means either. ECONNRESET is a handshake the backend
 * cut (never sent) or a connection reset after the request was written (maybe executed); EPROTO and the
 * ERR_SSL_* codes can end an established TLS connection too; EHOSTUNREACH can end a connection whose
 * retransmissions went unanswered. Only the connector sees the difference.
 */
const connectErrors = new WeakSet<object>();

/** A connector (undici's own, with `options`) that remembers the errors it reports. */
export function buildMarkingConnector(options: buildConnector.BuildOptions): buildConnector.connector {
  const connect = buildConnector(options);
  return (connectOptions, callback) => {
    connect(connectOptions, (...args) => {
      const [error] = args;
      // An error reported here only, once per failed connection: nothing is done on the request path.
      if (error !== null) connectErrors.add(error);
      callback(...args);
    });
  };
}

/** True when `error` is one a connector reported (see above): the request certainly was never sent. */
export function isConnectError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && connectErrors.has(error);
}
