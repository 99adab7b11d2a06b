import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { buildUpstreamHeaders } from './forward-headers.js';

describe('buildUpstreamHeaders', () => {
  const options = {
    backendToken: 'backend-secret',
    traceHeaders: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
    requestId: 'req-1',
    accept: 'application/json',
  };

  it('strips hop-by-hop fields, fields named in Connection and the client credentials', () => {
    const headers = buildUpstreamHeaders(
      {
        connection: 'keep-alive, X-Private-Hop',
        'keep-alive': 'timeout=5',
        'proxy-authorization': 'Basic abc',
        'proxy-connection': 'keep-alive',
        te: 'trailers',
        trailer: 'x-checksum',
        'transfer-encoding': 'chunked',
        upgrade: 'websocket',
        'x-private-hop': 'drop me',
        authorization: 'Bearer rk_demo01.client-secret',
        'x-api-key': 'client-secret',
        'api-key': 'client-secret',
        'openai-organization': 'org-of-the-client',
        'openai-project': 'proj_of_the_client',
        cookie: 'session=1',
        signature: 'sig1=:abc:',
        'signature-input': 'sig1=("@method")',
        'content-digest': 'sha-256=:abc:',
        host: 'router.example',
        'content-length': '42',
        'accept-encoding': 'gzip',
        traceparent: '00-ffffffffffffffffffffffffffffffff-ffffffffffffffff-01',
        'x-request-id': 'client-chosen',
        'x-mock-latency-ms': '5',
        'openai-beta': 'assistants=v2',
        'x-multi': ['a', 'b'],
      },
      options,
    );
    expect(headers).toEqual({
      'x-mock-latency-ms': '5',
      'openai-beta': 'assistants=v2',
      'x-multi': 'a, b',
      'content-type': 'application/json',
      accept: 'application/json',
      'accept-encoding': 'identity',
      'x-request-id': 'req-1',
      traceparent: options.traceHeaders.traceparent,
      authorization: 'Bearer backend-secret',
    });
    expect(JSON.stringify(headers)).not.toContain('client-secret');
    expect(JSON.stringify(headers)).not.toContain('of-the-client');
  });

  it('sends no Authorization at all for a backend without a credential', () => {
    const headers = buildUpstreamHeaders(
      { authorization: 'Bearer rk_demo01.x' },
      { ...options, backendToken: undefined },
    );
    expect(headers.authorization).toBeUndefined();
  });

  it('reads every form of Connection: plain keep-alive, one token, a list, several lines', () => {
    const client = { 'x-a': '1', 'x-b': '2', close: '3', 'keep-alive': 'timeout=5' };
    const forwarded = (connection: string | string[] | undefined): string[] =>
      Object.keys(buildUpstreamHeaders({ ...client, connection } as IncomingHttpHeaders, options)).filter(
        (name) => ['x-a', 'x-b', 'close', 'keep-alive'].includes(name),
      );
    expect(forwarded(undefined)).toEqual(['x-a', 'x-b', 'close']);
    expect(forwarded('keep-alive')).toEqual(['x-a', 'x-b', 'close']);
    expect(forwarded('close')).toEqual(['x-a', 'x-b']);
    expect(forwarded('Keep-Alive, X-A')).toEqual(['x-b', 'close']);
    expect(forwarded(['x-a', ' X-B ,'])).toEqual(['close']);
  });
});
