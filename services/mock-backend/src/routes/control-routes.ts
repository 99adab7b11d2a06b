import type { FastifyInstance } from 'fastify';
import type { FaultSettings } from '../config.js';
import type { MockBackendState } from '../mock-backend-state.js';
import { OpenAIError } from '../openai-error.js';
import type { RequestRecorder } from '../request-recorder.js';

export interface ControlRoutesDeps {
  state: MockBackendState;
  recorder: RequestRecorder;
}

/**
 * Test controls, never recorded and never faulted:
 * `GET|DELETE /control/requests`, `POST /control/health {healthy}`, `GET|PUT /control/faults`.
 */
export function registerControlRoutes(app: FastifyInstance, deps: ControlRoutesDeps): void {
  app.get('/control/requests', () => ({ requests: deps.recorder.list() }));
  app.delete('/control/requests', (_request, reply) => {
    deps.recorder.clear();
    return reply.code(204).send();
  });
  app.post('/control/health', (request) => {
    const healthy = (request.body as { healthy?: unknown } | null | undefined)?.healthy;
    if (typeof healthy !== 'boolean')
      throw new OpenAIError(400, 'body must be {"healthy": boolean}.', { param: 'healthy' });
    deps.state.setHealthy(healthy);
    return { healthy };
  });
  app.get('/control/faults', () => deps.state.faults());
  app.put('/control/faults', (request) => deps.state.updateFaults(parseFaultPatch(request.body)));
}

const INTEGER_FAULTS = ['latencyMs', 'firstByteDelayMs', 'chunkDelayMs', 'outputTokens'] as const;

/** Validates a partial {@link FaultSettings}; unknown or malformed fields are a 400. */
export function parseFaultPatch(body: unknown): Partial<FaultSettings> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new OpenAIError(400, 'body must be a JSON object of fault settings.');
  }
  const patch: Partial<FaultSettings> = {};
  for (const [name, value] of Object.entries(body)) {
    if (name === 'errorRate') {
      if (typeof value !== 'number' || !(value >= 0 && value <= 1))
        throw new OpenAIError(400, 'errorRate must be a number in [0, 1].', { param: name });
      patch.errorRate = value;
    } else if ((INTEGER_FAULTS as readonly string[]).includes(name)) {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
        throw new OpenAIError(400, `${name} must be a non-negative integer.`, { param: name });
      }
      patch[name as (typeof INTEGER_FAULTS)[number]] = value;
    } else {
      throw new OpenAIError(400, `unknown fault setting ${name}.`, { param: name });
    }
  }
  return patch;
}
