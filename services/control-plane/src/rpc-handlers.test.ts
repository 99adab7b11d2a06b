import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '@api-router/observability';
import { afterEach, describe, expect, it } from 'vitest';
import { createRpcHandlers, type RpcHandlersOptions } from './rpc-handlers.js';

const TOKEN = 'viewer-secret';

/** The HTTP/1.1 handler with an audit store that records its `list` calls; nothing else is used. */
function handlersWithAuditList(calls: unknown[]) {
  const logger = createLogger({ service: 'test', level: 'silent' });
  const options = {
    policySync: {},
    recordIngest: {},
    admin: {
      tokens: () => [
        { id: 'viewer-1', sha256: createHash('sha256').update(TOKEN).digest('hex'), role: 'viewer' },
      ],
      auditStore: {
        list: (query: unknown) => {
          calls.push(query);
          return Promise.resolve({ events: [], nextPageToken: '' });
        },
      },
      budgets: {},
      logger,
    },
    shutdownSignal: new AbortController().signal,
    httpFallback: (_request: unknown, response: { writeHead(status: number): { end(): void } }) =>
      response.writeHead(404).end(),
    logger,
  } as unknown as RpcHandlersOptions;
  return createRpcHandlers(options);
}

describe('RPC handlers: AdminService over Connect JSON (curl)', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((done) => server?.close(done) ?? done(undefined));
    server = undefined;
  });

  async function listAuditEvents(body: string, calls: unknown[]) {
    server = createServer(handlersWithAuditList(calls).httpHandler);
    await new Promise<void>((done) => server!.listen(0, '127.0.0.1', done));
    const { port } = server.address() as AddressInfo;
    const response = await fetch(`http://127.0.0.1:${port}/router.v1.AdminService/ListAuditEvents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body,
    });
    return { status: response.status, body: (await response.json()) as { code?: string; message?: string } };
  }

  it('answers a well-formed request', async () => {
    const calls: unknown[] = [];
    const answer = await listAuditEvents(
      '{"tenantId":"acme","kind":"AUDIT_EVENT_KIND_BUDGET_DENIED"}',
      calls,
    );
    expect(answer.status).toBe(200);
    expect(calls).toHaveLength(1);
  });

  it.each([
    ['an unknown field (a typo of tenantId)', '{"tenant":"acme"}', /key "tenant" is unknown/],
    ['an unknown enum name', '{"kind":"BUDGET_DENIED"}', /BUDGET_DENIED/],
  ])('refuses %s with invalid_argument instead of ignoring it', async (_name, body, message) => {
    const calls: unknown[] = [];
    const answer = await listAuditEvents(body, calls);
    expect(answer.status).toBe(400);
    expect(answer.body.code).toBe('invalid_argument');
    expect(answer.body.message).toMatch(message);
    expect(calls).toEqual([]);
  });
});
