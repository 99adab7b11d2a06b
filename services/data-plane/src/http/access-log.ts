import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from '@api-router/observability';
import { CLIENT_CLOSED_STATUS } from '../inference/request-signal.js';

/**
 * The one log line per request ("request completed"), written by fastify when the response ends (its
 * LogController hook, so no onResponse hook runs per request). fastify's own pair of lines (incoming +
 * completed, with the request and reply serialised) is off: two lines per request through pino's redaction
 * were ~8% of the data plane's CPU. This line carries what an operator looks for, flat: request id, method,
 * route path (no query string: it may hold anything), status, duration, and for inference requests the time
 * spent upstream, the key's public id, tenant, route, backend and attempts. Health, readiness and metrics
 * routes (probes, scrapes) log at debug.
 *
 * The line goes through a child of the service logger without redaction: its fields are the fixed set
 * below, none of them a secret (a key's public id is made to be logged), and pino's redaction runs a
 * wildcard check on every field of every line (~4 µs per line, half of the line's cost).
 */
export class AccessLogController extends LogController {
  readonly #lines: Logger;

  constructor(logger: Logger) {
    // Suppresses fastify's other per-request lines (incoming request, default error handler, not found):
    // errors are logged by the router's own error handler.
    super({ disableRequestLogging: true, requestIdLogLabel: 'request_id' });
    this.#lines = logger.child({}, { redact: [] });
  }

  override requestCompleted(
    _error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    const upstreamMs = request.inferenceState?.upstreamMs;
    logRequestCompleted(this.#lines, request, reply, reply.statusCode, upstreamMs);
  }

  /**
   * The line of a request whose client left before its response finished: fastify writes none then (it
   * logs on the response's 'finish'), so the inference routes call this when such a response closes. Its
   * status is 499 (nginx's "client closed request"), as in the request's usage record; `upstreamMs`
   * includes the attempt the client's leaving cut short.
   */
  requestAborted(request: FastifyRequest, reply: FastifyReply, upstreamMs: number): void {
    logRequestCompleted(this.#lines, request, reply, CLIENT_CLOSED_STATUS, upstreamMs);
  }
}

function logRequestCompleted(
  lines: Logger,
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  upstreamMs: number | undefined,
): void {
  const probe = request.routeOptions.config.alwaysAvailable === true;
  const state = request.inferenceState ?? undefined;
  const line = {
    request_id: request.id,
    method: request.method,
    path: request.routeOptions.url ?? 'unmatched',
    status,
    ms: Math.round(reply.elapsedTime * 100) / 100,
    // The backend's share of `ms` (finished attempts, retries included): the rest is the router's and the
    // client's side, which tells a slow backend from a busy router in the log alone.
    upstream_ms: upstreamMs === undefined ? undefined : Math.round(upstreamMs * 100) / 100,
    // Absent for routes outside the inference API (pino leaves undefined fields out of the line).
    key: state?.principal?.keyId,
    tenant: state?.principal?.tenantId,
    route: state?.routeId,
    backend: state?.backendId,
    attempts: state?.attempts,
  };
  if (probe) lines.debug(line, 'request completed');
  else lines.info(line, 'request completed');
}
