import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { create } from '@bufbuild/protobuf';
import { BackendSchema, type Backend } from '@api-router/contracts';
import { createLogger } from '@api-router/observability';
import { createUpstreamClient, type UpstreamRequest } from './upstream-client.js';
import { UpstreamPools } from './upstream-pools.js';
import { readUpstreamBody } from './read-upstream-body.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function server(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; server: Server }> {
  const httpServer = createServer(handler);
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        httpServer.closeAllConnections();
        httpServer.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}/v1`, server: httpServer };
}

function client() {
  const pools = new UpstreamPools({ logger: createLogger({ service: 'test', level: 'silent' }) });
  cleanups.push(() => pools.close());
  return createUpstreamClient(pools);
}

const backend = (baseUrl: string): Backend =>
  create(BackendSchema, { id: 'b', baseUrl, maxConnections: 2, connectTimeoutMs: 500, enabled: true });

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

describe('createUpstreamClient', () => {
  it('sends to the base URL path with the given headers and reads the body', async () => {
    let seen: { url?: string; headers?: IncomingHttpHeaders; body?: string } = {};
    const { url } = await server((incoming, response) => {
      let body = '';
      incoming.on('data', (chunk: Buffer) => (body += chunk.toString()));
      incoming.on('end', () => {
        seen = { url: incoming.url, headers: incoming.headers, body };
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      });
    });
    const outcome = await client()(request(url));
    expect(outcome.ok).toBe(true);
    if (!outcome.ok) return;
    expect(outcome.response.statusCode).toBe(200);
    const body = await readUpstreamBody(outcome.response.body, 1024, new AbortController().signal);
    expect(body.toString()).toBe('{"ok":true}');
    expect(seen).toMatchObject({ url: '/v1/chat/completions', body: '{"model":"m"}' });
    expect(seen.headers?.authorization).toBe('Bearer backend-token');
  });

  it('classifies a refused connection as retry-safe', async () => {
    const { url, server: closed } = await server(() => undefined);
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const outcome = await client()(request(url));
    expect(outcome).toMatchObject({ ok: false, failure: { kind: 'connect_failed', retrySafe: true } });
  });

  it('classifies missing headers within the first-byte timeout, not retry-safe', async () => {
    const { url } = await server(() => undefined); // never answers
    const outcome = await client()(request(url, { headersTimeoutMs: 50 }));
    expect(outcome).toMatchObject({ ok: false, failure: { kind: 'first_byte_timeout', retrySafe: false } });
  });

  it('classifies an abort (deadline, client gone) as aborted', async () => {
    const { url } = await server(() => undefined);
    const controller = new AbortController();
    const pending = client()(request(url, { signal: controller.signal }));
    controller.abort(new Error('deadline'));
    expect(await pending).toMatchObject({ ok: false, failure: { kind: 'aborted' } });
  });

  it('abandons a body over the size cap with 502 upstream_error', async () => {
    const { url } = await server((_incoming, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('x'.repeat(5000));
    });
    const outcome = await client()(request(url));
    if (!outcome.ok) throw new Error('expected a response');
    await expect(
      readUpstreamBody(outcome.response.body, 1000, new AbortController().signal),
    ).rejects.toMatchObject({
      code: 'upstream_error',
      status: 502,
      message: 'The model backend response exceeded the size limit.',
    });
  });
});
