import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Closes, when the server closes, the client connections that never sent a byte: sockets a client pool
 * opened ahead of need or kept after a cancelled request, TCP health checks. Node counts such a connection
 * as active (it runs the headers timeout on it from its start), so neither `server.closeIdleConnections()`
 * (fastify's `forceCloseConnections: 'idle'`) nor `server.close()` ends it: shutdown waited for the
 * headers timeout (60 s, checked every 30 s) whenever one was open. Nothing is in flight on them.
 */
export function closeSilentConnectionsOnClose(server: Server, onClose: (hook: () => void) => void): void {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  onClose(() => {
    for (const socket of sockets) if (socket.bytesRead === 0) socket.destroy();
  });
}
