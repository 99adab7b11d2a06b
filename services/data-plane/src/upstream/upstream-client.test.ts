import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { create } from '@bufbuild/protobuf';
import { BackendSchema, type Backend } from '@api-router/contracts';
import { RouterError } from '@api-router/errors';
import { createLogger } from '@api-router/observability';
import {
  createUpstreamClient,
  type UpstreamClient,
  type UpstreamOutcome,
  type UpstreamRequest,
  type UpstreamWholeResponse,
} from './upstream-client.js';
import { UpstreamPools } from './upstream-pools.js';
import { readUpstreamBody } from './read-upstream-body.js';
import { selfSignedCertificate } from '../testing/self-signed-certificate.test-support.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface TestServer {
  url: string;
  server: Server;
  /** Requests received so far. */
  requests: () => number;
  /** Resolves when every connection the server accepted so far is closed. */
  connectionsClosed: () => Promise<void>;
}

async function server(handler: Parameters<typeof createServer>[1]): Promise<TestServer> {
  const httpServer = createServer(handler);
  const sockets: Socket[] = [];
  let requests = 0;
  httpServer.on('connection', (socket: Socket) => sockets.push(socket));
  httpServer.on('request', () => (requests += 1));
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        httpServer.closeAllConnections();
        httpServer.close(() => resolve());
      }),
  );
  return {
    url: `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}/v1`,
    server: httpServer,
    requests: () => requests,
    connectionsClosed: async () => {
      for (const socket of sockets) {
        if (!socket.closed) await new Promise<void>((resolve) => socket.once('close', () => resolve()));
      }
    },
  };
}

function client(): UpstreamClient {
  const pools = new UpstreamPools({ logger: createLogger({ service: 'test', level: 'silent' }) });
  cleanups.push(() => pools.close());
  return createUpstreamClient(pools);
}

const backend = (baseUrl: string, maxConnections = 2): Backend =>
  create(BackendSchema, { id: 'b', baseUrl, maxConnections, connectTimeoutMs: 500, enabled: true });

function request(baseUrl: string, overrides: Partial<UpstreamRequest> = {}): UpstreamRequest {
  return {
    backend: backend(baseUrl),
    path: '/chat/completions',
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer backend-token' },
    body: '{"model":"m"}',
    signal: new AbortController().signal,
    headersTimeoutMs: 1000,
    bodyTimeoutMs: 1000,
    ...overrides,
  };
}

/** Both ways of calling, reduced to "did a response come, and how was the call classified". */
const modes = {
  stream: (upstream: UpstreamClient, upstreamRequest: UpstreamRequest) => upstream.stream(upstreamRequest),
  whole: (upstream: UpstreamClient, upstreamRequest: UpstreamRequest) =>
    upstream.whole(upstreamRequest, () => 1024),
};

/** The body of a whole response, or a test failure saying what came instead. */
function wholeBody(outcome: UpstreamOutcome<UpstreamWholeResponse>): {
  ok: boolean;
  text?: string;
  error?: unknown;
} {
  if (!outcome.ok) throw new Error(`expected a response, got failure ${outcome.failure.kind}`);
  const { body } = outcome.response;
  return body.ok ? { ok: true, text: body.bytes.toString() } : { ok: false, error: body.error };
}

describe.each(Object.entries(modes))('createUpstreamClient (%s)', (_mode, call) => {
  it('sends to the base URL path with the given headers', async () => {
    let seen: { url?: string; headers?: IncomingHttpHeaders; body?: string } = {};
    const { url } = await server((incoming, response) => {
      let body = '';
      incoming.on('data', (chunk: Buffer) => (body += chunk.toString()));
      incoming.on('end', () => {
        seen = { url: incoming.url, headers: incoming.headers, body };
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      });
    });
    const outcome = await call(client(), request(url));
    expect(outcome).toMatchObject({ ok: true, response: { statusCode: 200 } });
    expect(seen).toMatchObject({ url: '/v1/chat/completions', body: '{"model":"m"}' });
    expect(seen.headers?.authorization).toBe('Bearer backend-token');
  });

  it('classifies a refused connection as retry-safe', async () => {
    const { url, server: closed } = await server(() => undefined);
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const outcome = await call(client(), request(url));
    expect(outcome).toMatchObject({ ok: false, failure: { kind: 'connect_failed', retrySafe: true } });
  });

  it('classifies a failed TLS handshake (untrusted certificate) as retry-safe tls_failed', async () => {
    const tlsServer = createTlsServer(await selfSignedCertificate());
    tlsServer.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => tlsServer.close(() => resolve())));
    const url = `https://127.0.0.1:${(tlsServer.address() as AddressInfo).port}/v1`;
    const outcome = await call(client(), request(url));
    expect(outcome).toMatchObject({
      ok: false,
      failure: { kind: 'tls_failed', retrySafe: true, cause: { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' } },
    });
  });

  it('classifies a connection reset after the request was written as not retry-safe, whatever its code', async () => {
    // ECONNRESET also ends a handshake cut before it completed, retry-safe there: the phase decides.
    const backendServer = await server((incoming) => incoming.socket.resetAndDestroy());
    const outcome = await call(client(), request(backendServer.url));
    expect(outcome).toMatchObject({
      ok: false,
      failure: { kind: 'network', retrySafe: false, cause: { code: 'ECONNRESET' } },
    });
    expect(backendServer.requests()).toBe(1);
  });

  it('classifies missing headers within the first-byte timeout, not retry-safe, and closes the connection', async () => {
    const backendServer = await server(() => undefined); // never answers
    const outcome = await call(client(), request(backendServer.url, { headersTimeoutMs: 50 }));
    expect(outcome).toMatchObject({ ok: false, failure: { kind: 'first_byte_timeout', retrySafe: false } });
    await backendServer.connectionsClosed();
  });

  it('counts the first-byte timeout from the request being sent, not while it waits for a connection', async () => {
    const backendServer = await server((incoming, response) => {
      // The first request holds the only connection for 300 ms; the second is answered at once.
      const delayMs = incoming.headers['x-order'] === 'first' ? 300 : 0;
      setTimeout(() => response.end('{}'), delayMs);
    });
    const upstream = client();
    const oneConnection = { backend: backend(backendServer.url, 1) };
    const first = call(
      upstream,
      request(backendServer.url, { ...oneConnection, headers: { 'x-order': 'first' } }),
    );
    const second = call(upstream, request(backendServer.url, { ...oneConnection, headersTimeoutMs: 150 }));
    expect(await first).toMatchObject({ ok: true, response: { statusCode: 200 } });
    expect(await second).toMatchObject({ ok: true, response: { statusCode: 200 } });
    expect(backendServer.requests()).toBe(2);
  });

  it('classifies an abort (deadline, client gone) as aborted, its reason as the cause', async () => {
    const { url } = await server(() => undefined);
    const controller = new AbortController();
    const pending = call(client(), request(url, { signal: controller.signal }));
    const reason = new Error('deadline');
    controller.abort(reason);
    expect(await pending).toMatchObject({ ok: false, failure: { kind: 'aborted', cause: reason } });
  });

  it('classifies a call whose signal already aborted as aborted, without sending it', async () => {
    const backendServer = await server((_incoming, response) => response.end('{}'));
    const controller = new AbortController();
    controller.abort(new Error('client gone'));
    const outcome = await call(client(), request(backendServer.url, { signal: controller.signal }));
    expect(outcome).toMatchObject({ ok: false, failure: { kind: 'aborted' } });
    expect(backendServer.requests()).toBe(0);
  });
});

describe('createUpstreamClient: stream', () => {
  it('leaves the body to read as it arrives', async () => {
    const { url } = await server((_incoming, response) => {
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
    const outcome = await client().stream(request(url));
    if (!outcome.ok) throw new Error('expected a response');
    const body = await readUpstreamBody(outcome.response.body, 1024, new AbortController().signal);
    expect(body.toString()).toBe('{"ok":true}');
  });

  it('abandons a body over the size cap with 502 upstream_error', async () => {
    const { url } = await server((_incoming, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('x'.repeat(5000));
    });
    const outcome = await client().stream(request(url));
    if (!outcome.ok) throw new Error('expected a response');
    await expect(
      readUpstreamBody(outcome.response.body, 1000, new AbortController().signal),
    ).rejects.toMatchObject({
      code: 'upstream_error',
      status: 502,
      message: 'The model backend response exceeded the size limit.',
      details: { max_bytes: 1000 },
    });
  });
});

describe('createUpstreamClient: whole', () => {
  it('reads the whole body, chunk by chunk, after informational responses', async () => {
    const { url } = await server((_incoming, response) => {
      response.writeEarlyHints({ link: '</style.css>; rel=preload' });
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write('{"ok":');
      setTimeout(() => response.end('true}'), 10);
    });
    const outcome = await client().whole(request(url), () => 1024);
    expect(outcome).toMatchObject({ ok: true, response: { statusCode: 200 } });
    expect(wholeBody(outcome)).toEqual({ ok: true, text: '{"ok":true}' });
    if (outcome.ok) expect(outcome.response.headers['content-type']).toBe('application/json');
  });

  it('reads an error status with the limit chosen for it', async () => {
    const { url } = await server((_incoming, response) => {
      response.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"busy"}');
    });
    const limits: number[] = [];
    const outcome = await client().whole(request(url), (statusCode) => (limits.push(statusCode), 100));
    expect(limits).toEqual([503]);
    expect(outcome).toMatchObject({ ok: true, response: { statusCode: 503 } });
    expect(wholeBody(outcome)).toEqual({ ok: true, text: '{"error":"busy"}' });
  });

  it.each([
    ['streamed without a length', false],
    ['declared in content-length', true],
  ])(
    'abandons a body over the size cap (%s): 502 upstream_error, connection closed',
    async (_name, declared) => {
      const backendServer = await server((_incoming, response) => {
        response.writeHead(200, declared ? { 'content-length': 5000 } : {});
        response.write('x'.repeat(2000));
        setTimeout(() => response.end('x'.repeat(3000)), 10);
      });
      const outcome = await client().whole(request(backendServer.url), () => 1000);
      expect(outcome).toMatchObject({ ok: true, response: { statusCode: 200 } });
      expect(wholeBody(outcome).error).toMatchObject({
        code: 'upstream_error',
        status: 502,
        message: 'The model backend response exceeded the size limit.',
        details: { max_bytes: 1000 },
      });
      await backendServer.connectionsClosed();
    },
  );

  it('reports a body that stalls past the body timeout as 504 upstream_timeout', async () => {
    const { url } = await server((_incoming, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write('{"partial":'); // and nothing more
    });
    const outcome = await client().whole(request(url, { bodyTimeoutMs: 50 }), () => 1024);
    expect(wholeBody(outcome).error).toMatchObject({
      code: 'upstream_timeout',
      message: 'The model backend stalled mid-response.',
    });
  });

  it('reports a connection broken mid-body as 502 upstream_error', async () => {
    const { url } = await server((_incoming, response) => {
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': 100 });
      response.write('{"partial":', () => response.socket?.destroy());
    });
    const outcome = await client().whole(request(url), () => 1024);
    expect(wholeBody(outcome).error).toMatchObject({
      code: 'upstream_error',
      message: 'The model backend connection failed mid-response.',
    });
  });

  it('reports an abort mid-body (no body timeout: the deadline ends a stall) as its reason, closing the connection', async () => {
    const backendServer = await server((_incoming, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write('{"partial":');
    });
    const controller = new AbortController();
    const reason = new RouterError('upstream_timeout', { message: 'deadline' });
    backendServer.server.on('request', () => setTimeout(() => controller.abort(reason), 20));
    const outcome = await client().whole(
      request(backendServer.url, { signal: controller.signal, bodyTimeoutMs: undefined }),
      () => 1024,
    );
    expect(outcome).toMatchObject({ ok: true, response: { statusCode: 200 } });
    expect(wholeBody(outcome).error).toBe(reason);
    await backendServer.connectionsClosed();
  });

  it('settles an abort while waiting for a connection at once and never sends that request', async () => {
    let release: () => void = () => undefined;
    const backendServer = await server((_incoming, response) => {
      release = () => response.end('{}');
    });
    const upstream = client();
    const oneConnection = { backend: backend(backendServer.url, 1) };
    const first = upstream.whole(request(backendServer.url, oneConnection), () => 1024);
    const controller = new AbortController();
    const queued = upstream.whole(
      request(backendServer.url, { ...oneConnection, signal: controller.signal }),
      () => 1024,
    );
    await new Promise((resolve) => setTimeout(resolve, 20)); // the first request is in, the second waits
    controller.abort(new Error('client gone'));
    expect(await queued).toMatchObject({ ok: false, failure: { kind: 'aborted' } });
    release();
    expect(wholeBody(await first)).toEqual({ ok: true, text: '{}' });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(backendServer.requests()).toBe(1);
  });
});
