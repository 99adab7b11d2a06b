import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';

/**
 * The one log line per request ("request completed"), written by fastify when the response ends (its
 * LogController hook, so no onResponse hook runs per request). fastify's own pair of lines (incoming +
 * completed, with the request and reply serialised) is off: two lines per request through pino's redaction
 * were ~8% of the data plane's CPU. This line carries what an operator looks for, flat: method, route path
 * (no query string: it may hold anything), status, duration, and for inference requests the key's public id,
 * tenant, route, backend and attempts. Health, readiness and metrics routes (probes, scrapes) log at debug.
 */
export class AccessLogController extends LogController {
  constructor() {
    // Suppresses fastify's other per-request lines (incoming request, default error handler, not found):
    // errors are logged by the router's own error handler.
    super({ disableRequestLogging: true, requestIdLogLabel: 'request_id' });
  }

  override requestCompleted(
    _error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    logRequestCompleted(request, reply);
  }
}

function logRequestCompleted(request: FastifyRequest, reply: FastifyReply): void {
  const probe = request.routeOptions.config.alwaysAvailable === true;
  const state = request.inferenceState ?? null;
  const line = {
    method: request.method,
    path: request.routeOptions.url ?? 'unmatched',
    status: reply.statusCode,
    ms: Math.round(reply.elapsedTime * 100) / 100,
    ...(state === null
      ? {}
      : {
          key: state.principal?.keyId,
          tenant: state.principal?.tenantId,
          route: state.routeId,
          backend: state.backendId,
          attempts: state.attempts,
        }),
  };
  if (probe) request.log.debug(line, 'request completed');
  else request.log.info(line, 'request completed');
}
