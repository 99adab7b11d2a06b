import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';

/**
 * Closes, when the server closes, the client connections that never sent a byte: sockets a client pool
 * opened ahead of need or kept after a cancelled request, TCP health checks. Node counts such a connection
 * as active (it runs the headers timeout on it from its start), so neither `server.closeIdleConnections()`
 * (fastify's `forceCloseConnections: 'idle'`) nor `server.close()` ends it: shutdown waited for the
 * headers timeout (60 s, checked every 30 s) whenever one was open. Nothing is in flight on them.
 */
export function closeSilentConnectionsOnClose(app: FastifyInstance): void {
  const sockets = new Set<Socket>();
  app.server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  // preClose runs once the app is closing (after the drain delay), before the server waits for connections.
  app.addHook('preClose', (done) => {
    for (const socket of sockets) if (socket.bytesRead === 0) socket.destroy();
    done();
  });
}
