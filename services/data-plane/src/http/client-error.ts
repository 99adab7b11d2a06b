import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { RouterError } from '@api-router/errors';
import { renderErrorBody } from './error-body.js';

/**
 * fastify's `clientErrorHandler`: answers what Node's HTTP server refuses before any route runs — a request
 * not received within DP_REQUEST_TIMEOUT_MS (408), headers over Node's size limit (431), bytes that are not
 * HTTP (400) — in the router's error shape with a catalogue code (docs/errors.md), as every other error,
 * instead of fastify's default `{"error","message","statusCode"}`. As Node and fastify do, the connection is
 * closed afterwards (its request cannot be read to its end).
 */
export function createClientErrorHandler(
  newRequestId: () => string,
): (error: NodeJS.ErrnoException, socket: Duplex) => void {
  return (error, socket) => {
    // A connection reset: nothing to answer, and nobody to answer to.
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const routerError =
      error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new RouterError('request_timeout')
        : error.code === 'HPE_HEADER_OVERFLOW'
          ? new RouterError('request_header_too_large')
          : new RouterError('invalid_request', { message: 'The request is not valid HTTP.' });
    if (socket.writable) {
      const requestId = newRequestId();
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
