import { createConnection, createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/** A loopback TCP proxy that can stop passing bytes without closing anything (a network partition). */
export interface PausableTcpProxy {
  /** The proxy's port on 127.0.0.1. */
  readonly port: number;
  /**
   * From now on no byte goes through, either way, and new connections are accepted but never forwarded;
   * nothing is closed (what a client sees when the database host vanishes: silence, not a reset).
   */
  partition(): void;
  /** Ends the partition: the connections it held are reset (as after a failover), new ones go through. */
  heal(): void;
  /** Destroys every connection and stops listening. */
  close(): Promise<void>;
}

/** Starts a proxy from 127.0.0.1:<port 0> to `target`. */
export async function startPausableTcpProxy(target: {
  host: string;
  port: number;
}): Promise<PausableTcpProxy> {
  const sockets = new Set<Socket>();
  const held = new Set<Socket>();
  let partitioned = false;
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => {
      sockets.delete(socket);
      held.delete(socket);
    });
    socket.on('error', () => undefined);
  };
  const server = createServer((client) => {
    track(client);
    if (partitioned) {
      client.pause();
      held.add(client);
      return;
    }
    const upstream = createConnection(target);
    track(upstream);
    client.on('data', (chunk: Buffer) => {
      if (!partitioned) upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!partitioned) client.write(chunk);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    partition() {
      partitioned = true;
      for (const socket of sockets) held.add(socket);
    },
    heal() {
      partitioned = false;
      for (const socket of held) socket.destroy();
      held.clear();
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
