import { type IncomingMessage, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type VerifyRequestOptions,
  type VerifyResult,
  verifyRequest,
} from './message-signature/verify-request.js';

/** What a request that reached the server was, and how it verified. */
export interface VerifiedRequest {
  readonly url: string;
  readonly result: VerifyResult;
  readonly contentType: string | undefined;
}

export interface VerifyingServer {
  /** Base URL, http://127.0.0.1:<port>. */
  readonly url: string;
  /** Every request received so far, in order (tests take them with `splice(0)`). */
  readonly received: VerifiedRequest[];
  close(): Promise<void>;
}

/**
 * A loopback HTTP server that verifies the signature of each request exactly as it arrived on the wire
 * (what a real client — fetch, curl — sent) and answers 200 or 401: for tests of the signing side.
 */
export async function startVerifyingServer(options: VerifyRequestOptions): Promise<VerifyingServer> {
  const received: VerifiedRequest[] = [];
  const server = createServer((request, response) => {
    void (async () => {
      const body = await readBody(request);
      const result = await verifyRequest(
        {
          method: request.method ?? '',
          url: request.url ?? '',
          headers: request.headers,
          body,
          scheme: 'http',
        },
        options,
      );
      received.push({ url: request.url ?? '', result, contentType: request.headers['content-type'] });
      response.writeHead(result.ok ? 200 : 401).end();
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () =>
      new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
