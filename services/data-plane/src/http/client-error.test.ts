import { createServer, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { createClientErrorHandler } from './client-error.js';
import { createRequestIdGenerator } from './request-id.js';

function errorWithCode(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(code), { code });
}

/**
 * What the handler writes for an error of Node's HTTP server, whether it closed the socket, and what it
 * logged. `earlier`: the last request whose headers arrived on the connection (its id chosen by the data
 * plane's genReqId: the client's valid x-request-id here), and its response if still pending.
 */
function answerTo(
  error: NodeJS.ErrnoException,
  earlier?: { requestId: string; response: { headersSent: boolean } | null },
): { written: string; destroyed: boolean; logged: Record<string, unknown>[] } {
  const logged: Record<string, unknown>[] = [];
  const logger = { info: (fields: Record<string, unknown>) => logged.push(fields) };
  const socket = {
    written: '',
    destroyed: false,
    writable: true,
    // Node's response in progress on this connection.
    _httpMessage: earlier?.response ?? null,
    write(text: string) {
      this.written += text;
      return true;
    },
    destroy() {
      this.destroyed = true;
    },
  };
  if (earlier !== undefined) {
    const request = { headers: { 'x-request-id': earlier.requestId }, socket } as unknown as IncomingMessage;
    createRequestIdGenerator({ clock: { now: () => 0 } })(request);
  }
  createClientErrorHandler(() => 'req-1', logger)(error, socket as unknown as Duplex);
  return { written: socket.written, destroyed: socket.destroyed, logged };
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

  it('logs a line with the id it answered with, so that the id a client quotes can be found', () => {
    const { logged } = answerTo(errorWithCode('HPE_HEADER_OVERFLOW'));
    expect(logged).toEqual([expect.objectContaining({ request_id: 'req-1', status: 431 })]);
  });

  it("answers a request whose body did not arrive in time with that request's own id", () => {
    // The request already has an id (the client's, here): its log line (499) and the 408 must agree.
    const { written, logged } = answerTo(errorWithCode('ERR_HTTP_REQUEST_TIMEOUT'), {
      requestId: 'slow-upload-1',
      response: { headersSent: false },
    });
    const [head, body] = written.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 408 /);
    expect(head).toContain('\r\nx-request-id: slow-upload-1\r\n');
    expect(JSON.parse(body!)).toMatchObject({ error: { request_id: 'slow-upload-1' } });
    expect(logged).toEqual([expect.objectContaining({ request_id: 'slow-upload-1', status: 408 })]);
  });

  it('gives a fresh id to a timeout between requests, not the id of the one answered before it', () => {
    const { written } = answerTo(errorWithCode('ERR_HTTP_REQUEST_TIMEOUT'), {
      requestId: 'answered-before',
      response: null,
    });
    expect(written).toContain('\r\nx-request-id: req-1\r\n');
  });

  it('writes no second response after one that has begun (as Node would not), only closes', () => {
    const { written, destroyed } = answerTo(errorWithCode('ERR_HTTP_REQUEST_TIMEOUT'), {
      requestId: 'answered-1',
      response: { headersSent: true },
    });
    expect(written).toBe('');
    expect(destroyed).toBe(true);
  });

  it('writes nothing on a connection reset', () => {
    expect(answerTo(errorWithCode('ECONNRESET')).written).toBe('');
  });
});

describe('client error handler behind a real server', () => {
  it("answers a body that does not arrive in time with 408 and the request's own id", async () => {
    const logged: Record<string, unknown>[] = [];
    const app = Fastify({
      // Node checks the request timeout every connectionsCheckingInterval (30 s by default).
      serverFactory: (handler) =>
        createServer({ requestTimeout: 200, connectionsCheckingInterval: 20 }, handler),
      genReqId: createRequestIdGenerator({ clock: { now: () => 0 } }),
      clientErrorHandler: createClientErrorHandler(() => 'fresh-id', {
        info: (fields: Record<string, unknown>) => logged.push(fields),
      }),
    });
    app.post('/v1/chat/completions', () => ({ ok: true }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const { port } = app.server.address() as AddressInfo;
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1');
        let text = '';
        socket.setEncoding('utf8');
        socket.on('data', (chunk: string) => (text += chunk));
        socket.on('error', reject);
        socket.on('close', () => resolve(text));
        // Headers whole, the body never finished.
        socket.write(
          'POST /v1/chat/completions HTTP/1.1\r\nhost: a\r\ncontent-type: application/json\r\n' +
            'content-length: 100\r\nx-request-id: slow-upload-2\r\n\r\n{"model":',
        );
      });
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(answer).toContain('\r\nx-request-id: slow-upload-2\r\n');
      expect(logged).toEqual([expect.objectContaining({ request_id: 'slow-upload-2', status: 408 })]);
    } finally {
      await app.close();
    }
  });
});
