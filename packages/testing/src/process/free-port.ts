import { createServer } from 'node:net';

/**
 * Asks the kernel for a currently free TCP port on `host` (default 127.0.0.1) by binding port 0 and closing.
 * Another process may take the port before the caller binds it; callers that can bind port 0 themselves
 * should. Rejects when the bind fails.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : undefined;
      server.close(() => {
        if (port === undefined) reject(new Error(`freePort: no port assigned on ${host}`));
        else resolve(port);
      });
    });
  });
}
