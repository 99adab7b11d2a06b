import { createServer as createHttp1Server, type Server as Http1Server } from 'node:http';
import { createServer as createHttp2Server, type Http2Server, type ServerHttp2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { connectNodeAdapter } from '@connectrpc/connect-node';
import type { Logger } from 'pino';

/** A request listener for both node:http and node:http2 servers (what connectNodeAdapter returns). */
export type NodeHandler = ReturnType<typeof connectNodeAdapter>;

export interface HttpServersOptions {
  host: string;
  /** HTTP/2 cleartext port; 0 picks a free one. */
  grpcPort: number;
  /** HTTP/1.1 port; 0 picks a free one. */
  httpPort: number;
  /** Handler of the HTTP/2 listener (gRPC, Connect, gRPC-Web). */
  grpcHandler: NodeHandler;
  /** Handler of the HTTP/1.1 listener (Connect, gRPC-Web, ops endpoints). */
  httpHandler: NodeHandler;
  logger: Logger;
  /** How long `close` waits for open connections to finish before destroying them; default 5000 ms. */
  forceCloseAfterMs?: number;
  /**
   * HTTP/2 sessions are pinged this often; one whose previous ping is still unanswered at the next is
   * destroyed. Default 30 000 ms.
   */
  pingIntervalMs?: number;
}

/** The two listeners of the control plane. */
export interface HttpServers {
  /** e.g. "http://127.0.0.1:50051". */
  readonly grpcUrl: string;
  /** e.g. "http://127.0.0.1:8081". */
  readonly httpUrl: string;
  /**
   * Stops accepting connections, asks HTTP/2 clients to go away (GOAWAY) and closes idle HTTP/1.1
   * connections; whatever is still open after `forceCloseAfterMs` is destroyed. End streams first.
   */
  close(): Promise<void>;
}

/**
 * Starts the HTTP/2 cleartext listener (data planes' gRPC) and the HTTP/1.1 listener (admins' curl,
 * Prometheus — neither speaks h2c). Logs one `{"msg":"listening","server":…,"url":…}` line per listener.
 */
export async function startHttpServers(options: HttpServersOptions): Promise<HttpServers> {
  const sessions = new Set<ServerHttp2Session>();
  const http2Server = createHttp2Server(options.grpcHandler);
  const pingIntervalMs = options.pingIntervalMs ?? 30_000;
  http2Server.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    const pinger = destroyWhenSilent(session, pingIntervalMs);
    session.once('close', () => {
      clearInterval(pinger);
      sessions.delete(session);
    });
  });
  const http1Server = createHttp1Server(options.httpHandler);
  try {
    const grpcUrl = await listen(http2Server, options.grpcPort, options.host);
    options.logger.info({ server: 'grpc', url: grpcUrl }, 'listening');
    const httpUrl = await listen(http1Server, options.httpPort, options.host);
    options.logger.info({ server: 'http', url: httpUrl }, 'listening');
    const forceCloseAfterMs = options.forceCloseAfterMs ?? 5000;
    return {
      grpcUrl,
      httpUrl,
      close: () =>
        Promise.all([
          closeHttp2(http2Server, sessions, forceCloseAfterMs),
          closeHttp1(http1Server, forceCloseAfterMs),
        ]).then(() => undefined),
    };
  } catch (error: unknown) {
    await Promise.all([closeHttp2(http2Server, sessions, 0), closeHttp1(http1Server, 0)]);
    throw error;
  }
}

/**
 * Pings `session` every `intervalMs` and destroys it when the previous ping is still unanswered. A data
 * plane whose host died or was cut off sends no FIN or RST: without this its policy stream stayed open
 * (listed as connected, counted as an active stream) until the kernel gave up retransmitting the heartbeats,
 * about 15 minutes on Linux. Detection takes one to two intervals; a live peer's HTTP/2 stack answers pings
 * itself, whatever its application does.
 */
function destroyWhenSilent(session: ServerHttp2Session, intervalMs: number): NodeJS.Timeout {
  let awaitingAnswer = false;
  const pinger = setInterval(() => {
    if (session.destroyed) return;
    if (awaitingAnswer) {
      session.destroy();
      return;
    }
    awaitingAnswer = true;
    try {
      // An error (in the callback or thrown) means the session is closing, which ends this timer anyway.
      session.ping((error) => {
        if (error === null) awaitingAnswer = false;
      });
    } catch {
      awaitingAnswer = false;
    }
  }, intervalMs);
  // Never what keeps the process alive.
  pinger.unref();
  return pinger;
}

function listen(server: Http1Server | Http2Server, port: number, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const address = server.address() as AddressInfo;
      const shownHost = address.address.includes(':') ? `[${address.address}]` : address.address;
      resolve(`http://${shownHost}:${address.port}`);
    });
  });
}

function closeHttp2(
  server: Http2Server,
  sessions: Set<ServerHttp2Session>,
  forceCloseAfterMs: number,
): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => {
      for (const session of sessions) session.destroy();
    }, forceCloseAfterMs);
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    for (const session of sessions) session.close();
  });
}

function closeHttp1(server: Http1Server, forceCloseAfterMs: number): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), forceCloseAfterMs);
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}
