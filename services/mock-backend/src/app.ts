import fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import type { Logger } from '@api-router/observability';
import type { MockBackendState } from './mock-backend-state.js';
import { OpenAIError, toOpenAIErrorBody } from './openai-error.js';
import type { RequestRecorder } from './request-recorder.js';
import { registerChatCompletionsRoute } from './routes/chat-completions-route.js';
import { registerControlRoutes } from './routes/control-routes.js';
import { registerHealthRoute } from './routes/health-route.js';
import { registerModelsRoute } from './routes/models-route.js';
import type { Sleep } from './sleep.js';

/** Response header naming the instance that served a request. */
export const BACKEND_ID_HEADER = 'x-mock-backend-id';

/** Largest request body accepted, in bytes (big prompts in load tests). */
export const BODY_LIMIT_BYTES = 16 * 1024 * 1024;

export interface MockBackendAppDeps {
  /** Instance identity, sent as {@link BACKEND_ID_HEADER}. */
  id: string;
  /** Model ids listed by `GET /v1/models`. */
  models: readonly string[];
  state: MockBackendState;
  recorder: RequestRecorder;
  logger: Logger;
  sleep: Sleep;
  /** Uniform random number in [0, 1); decides error-rate failures. */
  random: () => number;
  /** Current time in ms since the epoch. */
  nowMs: () => number;
}

/** Builds the fastify app (not listening); tests drive it with `inject()`. */
export function buildMockBackendApp(deps: MockBackendAppDeps): FastifyInstance {
  // No fastify logger: per-request logging would cost the benchmarks; errors are logged by the handler below.
  const app = fastify({ logger: false, bodyLimit: BODY_LIMIT_BYTES, forceCloseConnections: true });

  // Callback-style hooks: no promise allocated per request on the hot path.
  app.addHook('onRequest', (_request, reply, done) => {
    void reply.header(BACKEND_ID_HEADER, deps.id);
    done();
  });
  app.addHook('preHandler', (request, _reply, done) => {
    if (!request.url.startsWith('/control/')) deps.recorder.record(request, deps.nowMs());
    done();
  });

  app.setErrorHandler((error: FastifyError, _request, reply) => {
    const openAIError = toOpenAIError(error);
    // An AbortError is a fault delay cut short by the client leaving: nobody to answer, nothing broken.
    const unexpected =
      openAIError.status >= 500 && !(error instanceof OpenAIError) && error.name !== 'AbortError';
    if (unexpected) deps.logger.error({ err: error }, 'unexpected error');
    if (openAIError.status === 429 || openAIError.status === 503) void reply.header('retry-after', '1');
    return reply.code(openAIError.status).send(toOpenAIErrorBody(openAIError));
  });
  app.setNotFoundHandler((request, reply) => {
    const error = new OpenAIError(404, `No route for ${request.method} ${request.url}.`, {
      code: 'not_found',
    });
    return reply.code(404).send(toOpenAIErrorBody(error));
  });

  registerChatCompletionsRoute(app, deps);
  registerModelsRoute(app, deps);
  registerHealthRoute(app, deps);
  registerControlRoutes(app, deps);
  return app;
}

/** Maps what a handler or fastify threw (bad JSON, body too large…) onto the OpenAI error shape. */
function toOpenAIError(error: FastifyError): OpenAIError {
  if (error instanceof OpenAIError) return error;
  const status = error.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    return new OpenAIError(status, error.message, { code: error.code, cause: error });
  }
  return new OpenAIError(500, 'Internal error in the mock backend.', { cause: error });
}
