import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { fromJson, type JsonValue } from '@bufbuild/protobuf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InferenceResponseSchema } from '@api-router/contracts';
import { metricValue } from '../test/support/data-plane-harness.js';
import { startInferenceHarness, type InferenceHarness } from './testing/inference-harness.test-support.js';
import { selfSignedCertificate } from './testing/self-signed-certificate.test-support.js';
import { TEST_KEYS, testApiKey } from './testing/test-policy.test-support.js';

// A backend whose TLS handshake fails never received the request: the router skips it as it skips one
// that refuses connections. Route failover-model tries mock-dead (here the broken backend) then mock-a.

const messages = [{ role: 'user', content: 'Say hello to the router' }];

/** A listener on 127.0.0.1:0 and how to stop it; `accepted` counts its TCP connections. */
interface Listener {
  port: number;
  accepted: () => number;
  close: () => Promise<void>;
}

async function listen(server: Server): Promise<Listener> {
  let accepted = 0;
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    accepted: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

async function postFailoverModel(harness: InferenceHarness): Promise<Response> {
  return fetch(`${harness.url}/v1/inference`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${testApiKey(TEST_KEYS.demo)}`,
      'content-type': 'application/json',
    },
    body: JSON.stringify({ model: 'failover-model', messages }),
  });
}

describe('failover past a backend whose TLS handshake fails', () => {
  describe('an untrusted (self-signed) certificate', () => {
    let harness: InferenceHarness;
    let tlsBackend: Listener;
    let requestsReceived = 0;
    beforeAll(async () => {
      const server = createTlsServer(await selfSignedCertificate(), (socket) => {
        socket.on('data', () => (requestsReceived += 1));
      });
      // A client that rejects the certificate resets the handshake: expected, not a test failure.
      server.on('tlsClientError', () => undefined);
      tlsBackend = await listen(server);
      harness = await startInferenceHarness({ deadBackendUrl: `https://127.0.0.1:${tlsBackend.port}/v1` });
    });
    afterAll(async () => {
      await harness.close();
      await tlsBackend.close();
    });

    it('is skipped: the request succeeds on the next candidate, 2 attempts, reason tls_failed', async () => {
      const response = await postFailoverModel(harness);
      expect(response.status).toBe(200);
      const json = fromJson(InferenceResponseSchema, (await response.json()) as JsonValue);
      expect(json.router).toMatchObject({ backendId: 'mock-a', attempts: 2 });
      // The router did connect (the handshake failed), and no request bytes reached the backend.
      expect(tlsBackend.accepted()).toBeGreaterThanOrEqual(1);
      expect(requestsReceived).toBe(0);
      const metrics = await harness.metricsText();
      expect(
        metricValue(metrics, 'router_upstream_attempts_total', {
          backend: 'mock-dead',
          outcome: 'tls_failed',
        }),
      ).toBe(1);
      const warning = harness
        .logLinesOf(json.router!.requestId)
        .find((line) => line.msg === 'upstream attempt failed, trying next');
      expect(warning).toMatchObject({
        backendId: 'mock-dead',
        failure: 'tls_failed',
        errorCode: 'DEPTH_ZERO_SELF_SIGNED_CERT',
      });
    });
  });

  describe('https pointed at a plain-HTTP port', () => {
    let harness: InferenceHarness;
    let plainBackend: Listener;
    let bytesReceived = '';
    beforeAll(async () => {
      // Answers whatever it gets as a plain-HTTP server does to a TLS ClientHello: 400, then closes.
      plainBackend = await listen(
        createTcpServer((socket) => {
          socket.once('data', (chunk: Buffer) => {
            bytesReceived += chunk.toString('latin1');
            socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
          });
        }),
      );
      harness = await startInferenceHarness({
        deadBackendUrl: `https://127.0.0.1:${plainBackend.port}/v1`,
      });
    });
    afterAll(async () => {
      await harness.close();
      await plainBackend.close();
    });

    it('is skipped: the request succeeds on the next candidate, 2 attempts, reason tls_failed', async () => {
      const response = await postFailoverModel(harness);
      expect(response.status).toBe(200);
      const json = fromJson(InferenceResponseSchema, (await response.json()) as JsonValue);
      expect(json.router).toMatchObject({ backendId: 'mock-a', attempts: 2 });
      // What reached the backend was a TLS ClientHello (record type 22), never the HTTP request.
      expect(bytesReceived.charCodeAt(0)).toBe(22);
      expect(bytesReceived).not.toContain('POST');
      const metrics = await harness.metricsText();
      expect(
        metricValue(metrics, 'router_upstream_attempts_total', {
          backend: 'mock-dead',
          outcome: 'tls_failed',
        }),
      ).toBe(1);
    });
  });
});
