import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { NodeHandler } from './http-servers.js';

type NodeServerResponse = Parameters<NodeHandler>[1];

/** Whether the control plane should receive traffic, with a reason for humans when it should not. */
export interface Readiness {
  ready: boolean;
  detail: Record<string, unknown>;
}

export interface OpsHttpHandlerOptions {
  metricsRegistry: Registry;
  readiness: () => Readiness;
  logger: Logger;
}

/**
 * Non-RPC endpoints of the HTTP/1.1 listener (the Connect adapter's fallback): `GET /metrics` (Prometheus
 * text), `GET /healthz` (200 while the process runs), `GET /readyz` (200 once a snapshot is published and
 * while not draining; else 503 with a JSON detail). Anything else is 404.
 */
export function createOpsHttpHandler(options: OpsHttpHandlerOptions): NodeHandler {
  return (request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      sendJson(response, 404, { error: 'not found' });
      return;
    }
    switch (path) {
      case '/healthz':
        sendJson(response, 200, { status: 'ok' });
        return;
      case '/readyz': {
        const readiness = options.readiness();
        sendJson(response, readiness.ready ? 200 : 503, { ready: readiness.ready, ...readiness.detail });
        return;
      }
      case '/metrics':
        options.metricsRegistry.metrics().then(
          (text) => send(response, 200, options.metricsRegistry.contentType, text),
          (error: unknown) => {
            options.logger.error({ err: error }, 'metrics collection failed');
            sendJson(response, 500, { error: 'metrics collection failed' });
          },
        );
        return;
      default:
        sendJson(response, 404, { error: 'not found' });
    }
  };
}

function sendJson(response: NodeServerResponse, status: number, body: unknown): void {
  send(response, status, 'application/json', JSON.stringify(body));
}

function send(response: NodeServerResponse, status: number, contentType: string, body: string): void {
  response.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  response.end(body);
}
