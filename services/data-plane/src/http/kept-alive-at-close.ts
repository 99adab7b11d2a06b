import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';

/** A server socket with the response it is serving now (Node's field; closeIdleConnections reads it too). */
interface ServingSocket extends Socket {
  _httpMessage?: ServerResponse | null;
}

/**
 * Ends, when the server closes, each kept-alive client connection once the answers in flight on it are
 * complete. `server.close()` waits for every connection, and fastify's `forceCloseConnections: 'idle'`
 * closes only those idle at that moment: a connection whose request was in flight (a JSON answer or a
 * stream) went idle after, and the server's close waited until the keep-alive timeout (72 s) ended it — a
 * shutdown past a pod's grace period (SIGKILL: outbox not closed, backlog not shipped) after any request in
 * flight at SIGTERM. The answer keeps its `Connection: keep-alive` (a stream's was sent already); a request
 * pipelined behind it (answered 503 by the closing app, with `Connection: close`) is answered before the end.
 */
export function endKeptAliveConnectionsOnClose(app: FastifyInstance): void {
  const sockets = new Set<ServingSocket>();
  app.server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  // preClose runs once the app is closing, before the server waits for connections.
  app.addHook('preClose', (done) => {
    for (const socket of sockets) endAfterAnswers(socket);
    done();
  });
}

/**
 * Ends `socket` once it serves no answer. Node's own 'finish' listener (registered first) detaches the
 * finished response and hands the socket the next pipelined one, if any: that one is waited for in turn.
 */
function endAfterAnswers(socket: ServingSocket): void {
  const response = socket._httpMessage;
  // No answer in flight: idle (fastify closed it) or never used (silent-connections.ts).
  if (response === undefined || response === null) return;
  response.once('finish', () => {
    if (socket._httpMessage === undefined || socket._httpMessage === null) socket.end();
    else endAfterAnswers(socket);
  });
}
