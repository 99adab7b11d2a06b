import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { LivenessDetail, ReadinessDetail } from '../readiness.js';

export interface HealthRoutesDeps {
  readiness: { detail(): ReadinessDetail; liveness(): LivenessDetail };
  metricsRegistry: Registry;
}

/**
 * GET /healthz (200 while the process can serve; 503 when only a restart helps: a failed outbox), GET /readyz (200 with detail once a policy is active, 503
 * with the same detail otherwise and during the shutdown drain), GET /metrics (Prometheus text). They
 * answer with or without a policy, and log only warnings so probes and scrapes do not flood the log.
 */
export function registerHealthRoutes(app: FastifyInstance, deps: HealthRoutesDeps): void {
  const options = { logLevel: 'warn', config: { alwaysAvailable: true } } as const;

  app.get('/healthz', options, (_request, reply) => {
    const liveness = deps.readiness.liveness();
    return reply.code(liveness.status === 'ok' ? 200 : 503).send(liveness);
  });

  app.get('/readyz', options, (_request, reply) => {
    const detail = deps.readiness.detail();
    return reply.code(detail.ready ? 200 : 503).send(detail);
  });

  app.get('/metrics', options, async (_request, reply) => {
    const text = await deps.metricsRegistry.metrics();
    return reply.type(deps.metricsRegistry.contentType).send(text);
  });
}
