import { connect, type ClientHttp2Session } from 'node:http2';
import { createLogger } from '@api-router/observability';
import { waitFor } from '@api-router/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { startPausableTcpProxy, type PausableTcpProxy } from '../test/pausable-tcp-proxy.js';
import { startHttpServers, type HttpServers, type NodeHandler } from './http-servers.js';

describe('HTTP servers: HTTP/2 listener', () => {
  let servers: HttpServers | undefined;
  let proxy: PausableTcpProxy | undefined;
  let client: ClientHttp2Session | undefined;
  afterEach(async () => {
    client?.destroy();
    await proxy?.close();
    await servers?.close();
    [servers, proxy, client] = [undefined, undefined, undefined];
  });

  // A data plane whose host died or was cut off sends no FIN or RST. Its policy stream stayed open, listed as
  // connected and counted in router_cp_policy_streams_active, until the kernel gave up retransmitting the
  // heartbeats (about 15 minutes on Linux). Unanswered pings now close its session.
  it('closes the session of a peer that stops answering pings, and keeps one that answers them', async () => {
    const open = new Set<string>();
    const stream: NodeHandler = (request, response) => {
      open.add('stream');
      request.on('close', () => open.delete('stream'));
      response.writeHead(200);
      response.write('first message');
    };
    servers = await startHttpServers({
      host: '127.0.0.1',
      grpcPort: 0,
      httpPort: 0,
      grpcHandler: stream,
      httpHandler: stream,
      logger: createLogger({ service: 'test', level: 'silent' }),
      pingIntervalMs: 200,
    });
    proxy = await startPausableTcpProxy({ host: '127.0.0.1', port: Number(new URL(servers.grpcUrl).port) });
    client = connect(`http://127.0.0.1:${String(proxy.port)}`);
    let pings = 0;
    client.on('ping', () => (pings += 1));
    client.request({ ':path': '/watch', ':method': 'POST' }).on('error', () => undefined);

    // A peer that answers keeps its stream, whatever the number of pings.
    await waitFor('three pings answered', () => (pings >= 3 ? true : undefined));
    expect(open.has('stream')).toBe(true);

    proxy.partition();
    await waitFor('the silent peer’s stream to be closed', () => (open.has('stream') ? undefined : true));
  });
});
