import type { FastifyInstance } from 'fastify';
import type { MockBackendState } from '../mock-backend-state.js';

/** `GET /health`: 200 `{status:"ok"}`, or 503 `{status:"unhealthy"}` while switched unhealthy. No faults apply. */
export function registerHealthRoute(app: FastifyInstance, deps: { state: MockBackendState }): void {
  app.get('/health', async (_request, reply) => {
    if (deps.state.isHealthy()) return { status: 'ok' };
    return reply.code(503).send({ status: 'unhealthy' });
  });
}
