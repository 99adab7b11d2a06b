import type { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createClientErrorHandler } from './client-error.js';

function errorWithCode(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(code), { code });
}

/** What the handler writes for an error of Node's HTTP server, and whether it closed the socket. */
function answerTo(error: NodeJS.ErrnoException): { written: string; destroyed: boolean } {
  const socket = {
    written: '',
    destroyed: false,
    writable: true,
    write(text: string) {
      this.written += text;
      return true;
    },
    destroy() {
      this.destroyed = true;
    },
  };
  createClientErrorHandler(() => 'req-1')(error, socket as unknown as Duplex);
  return { written: socket.written, destroyed: socket.destroyed };
}

describe('client error handler (errors of Node before any route)', () => {
  it.each([
    ['ERR_HTTP_REQUEST_TIMEOUT', 408, 'Request Timeout', 'request_timeout', true],
    ['HPE_HEADER_OVERFLOW', 431, 'Request Header Fields Too Large', 'request_header_too_large', false],
    ['HPE_INVALID_METHOD', 400, 'Bad Request', 'invalid_request', false],
  ])(
    'answers %s with %i and the catalogue code, then closes',
    (code, status, reason, errorCode, retryable) => {
      const { written, destroyed } = answerTo(errorWithCode(code));
      const [head, body] = written.split('\r\n\r\n');
      expect(head).toMatch(new RegExp(`^HTTP/1\\.1 ${status} ${reason}\\r\\n`));
      expect(head).toContain('Content-Type: application/json');
      expect(head).toContain(`Content-Length: ${Buffer.byteLength(body!)}`);
      expect(head).toContain('Connection: close');
      // As on every other error (docs/errors.md): the SDKs' retry decision, and the id of the log line.
      expect(head).toContain(`\r\nx-should-retry: ${retryable}\r\n`);
      expect(head).toContain('\r\nx-request-id: req-1');
      expect(JSON.parse(body!)).toEqual({
        error: { code: errorCode, message: expect.any(String), request_id: 'req-1', retryable },
      });
      expect(destroyed).toBe(true);
    },
  );

  it('writes nothing on a connection reset', () => {
    expect(answerTo(errorWithCode('ECONNRESET')).written).toBe('');
  });
});
