import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { RouterError } from '@api-router/errors';
import type { Logger } from '@api-router/observability';
import { renderErrorBody } from './error-body.js';
import { lastRequestIdOn } from './request-id.js';

/**
 * fastify's `clientErrorHandler`: answers what Node's HTTP server refuses before any route runs — a request
 * not received within DP_REQUEST_TIMEOUT_MS (408), headers over Node's size limit (431), bytes that are not
 * HTTP (400) — in the router's error shape with a catalogue code (docs/errors.md), as every other error,
 * instead of fastify's default `{"error","message","statusCode"}`. As Node and fastify do, the connection is
 * closed afterwards (its request cannot be read to its end).
 */
export function createClientErrorHandler(
  newRequestId: () => string,
  logger: Pick<Logger, 'info'>,
): (error: NodeJS.ErrnoException, socket: Duplex) => void {
  return (error, socket) => {
    // A connection reset: nothing to answer, and nobody to answer to.
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    // The request in progress on this connection, if its headers arrived (a body past the request timeout).
    const inFlight = (socket as { _httpMessage?: ServerResponse | null })._httpMessage ?? undefined;
    // Node's own rule: no response written after one that has begun, which the client would read as the
    // end of the first or as the answer to its next request.
    if (inFlight?.headersSent === true) {
      socket.destroy(error);
      return;
    }
    const routerError =
      error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new RouterError('request_timeout')
        : error.code === 'HPE_HEADER_OVERFLOW'
          ? new RouterError('request_header_too_large')
          : new RouterError('invalid_request', { message: 'The request is not valid HTTP.' });
    if (socket.writable) {
      // A request in progress (its response pending) has its id already: the client's, or the one its log
      // line carries. Without one, the error came before any request's headers (or between two).
      const requestId = (inFlight === undefined ? undefined : lastRequestIdOn(socket)) ?? newRequestId();
      // The one line of such a request (a request in progress also gets its access line, status 499): the
      // id the client reads here can be looked up.
      logger.info(
        { request_id: requestId, status: routerError.status, code: routerError.code, cause: error.code },
        'client error',
      );
      const body = JSON.stringify(renderErrorBody(routerError, requestId, 'router'));
      // The headers every error carries (error-handler.ts): the id, and the SDKs' retry decision.
      socket.write(
        `HTTP/1.1 ${routerError.status} ${STATUS_CODES[routerError.status]}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
          `x-request-id: ${requestId}\r\nx-should-retry: ${routerError.retryable}\r\n` +
          `Connection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy(error);
  };
}
