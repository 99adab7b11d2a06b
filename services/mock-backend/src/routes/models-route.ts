import type { FastifyInstance } from 'fastify';
import type { MockBackendState } from '../mock-backend-state.js';
import { abortSignalOnClose } from '../raw-response-writes.js';
import { applyPreResponseFaults, resolveRequestFaults } from '../request-faults.js';
import type { Sleep } from '../sleep.js';

/** OpenAI `GET /v1/models` response body. */
export interface ModelList {
  object: 'list';
  data: Array<{ id: string; object: 'model'; created: number; owned_by: string }>;
}

export interface ModelsRouteDeps {
  models: readonly string[];
  state: MockBackendState;
  sleep: Sleep;
  random: () => number;
  nowMs: () => number;
}

/** `GET /v1/models`: the configured models; latency, forced status and error rate apply here too. */
export function registerModelsRoute(app: FastifyInstance, deps: ModelsRouteDeps): void {
  const created = Math.floor(deps.nowMs() / 1000);
  const body: ModelList = {
    object: 'list',
    data: deps.models.map((id) => ({ id, object: 'model', created, owned_by: 'mock-backend' })),
  };
  app.get('/v1/models', async (request, reply) => {
    const faults = resolveRequestFaults(deps.state.faults(), request.headers);
    await applyPreResponseFaults(
      faults,
      deps,
      faults.latencyMs > 0 ? abortSignalOnClose(reply.raw) : undefined,
    );
    return body;
  });
}
