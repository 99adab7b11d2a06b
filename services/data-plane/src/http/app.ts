import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { RouterError } from '@api-router/errors';
import { LazyChildLogger, type Logger } from '@api-router/observability';
import type { Clock } from '../clock.js';
import type { HttpSettings } from '../config.js';
import { registerInferenceRoutes, type InferenceRoutesDeps } from '../inference/register-inference-routes.js';
import type { ActivePolicy } from '../policy/policy-holder.js';
import { AccessLogController } from './access-log.js';
import { createClientErrorHandler } from './client-error.js';
import { deferContinue } from './expect-continue.js';
import { handleError, installErrorHandler } from './error-handler.js';
import type { LivenessDetail, ReadinessDetail } from './readiness.js';
import { pooledRandomBytes } from '../random-pool.js';
import { createRequestIdGenerator, REQUEST_ID_HEADER, uuidV7 } from './request-id.js';
import { registerHealthRoutes } from './routes/health-routes.js';
import { endKeptAliveConnectionsOnClose } from './kept-alive-at-close.js';
import { closeSilentConnectionsOnClose } from './silent-connections.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route answers even while no policy is active (health, readiness, metrics). */
    alwaysAvailable?: boolean;
  }
}

export interface AppDeps {
  logger: Logger;
  clock: Clock;
  http: HttpSettings;
  metricsRegistry: Registry;
  readiness: { detail(): ReadinessDetail; liveness(): LivenessDetail };
  /** Read on every request: the policy to serve with, undefined while none is active. */
  activePolicy: () => ActivePolicy | undefined;
  /** The inference API's dependencies; without them only the health routes exist (tests of the shell). */
  inference?: InferenceRoutesDeps;
}

/**
 * Builds the public HTTP app (not listening; tests drive it with inject()). Every route except the
 * `alwaysAvailable` ones answers 503 not_ready until a policy is active: without a policy there is no
 * key to check, so the only safe answer is no (never "allow all").
 */
export function buildApp(deps: AppDeps): FastifyInstance {
  const accessLog = new AccessLogController(deps.logger);
  const app = Fastify({
    loggerInstance: deps.logger,
    genReqId: createRequestIdGenerator({ clock: deps.clock, randomBytes: pooledRandomBytes() }),
    // One line per request (request_id bound), written when the response ends, instead of fastify's two.
    logController: accessLog,
    // request.log becomes a real pino child (bindings serialised and redacted) only if something logs
    // through it: most requests never do. The casts: fastify passes the instance's logger (deps.logger or
    // a child of it, pino either way) typed as its base interface, and types the result as pino's Logger
    // while only using the FastifyBaseLogger part, which LazyChildLogger has.
    childLoggerFactory: (logger, bindings, options) =>
      new LazyChildLogger(logger as Logger, bindings, options) as unknown as Logger,
    connectionTimeout: deps.http.connectionTimeoutMs,
    keepAliveTimeout: deps.http.keepAliveTimeoutMs,
    requestTimeout: deps.http.requestTimeoutMs,
    bodyLimit: deps.http.bodyLimitBytes,
    // 408 / 431 / malformed HTTP in the router's error shape with a catalogue code, like every other error.
    clientErrorHandler: createClientErrorHandler(
      () => uuidV7(deps.clock.now(), randomBytes(10)),
      deps.logger,
    ),
    // On close, idle sockets are closed, and a request still arriving on a busy kept-alive one gets
    // Connection: close (fastify) and a 503 from the onRequest hook below. Not fastify's own 503: it has
    // neither the router's shape nor the request id, and no hook runs for it, so it was never counted.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    // Schemas validate what clients sent; coercing "5" into 5 would forward a body the schema never saw.
    ajv: { customOptions: { coerceTypes: false } },
    // A path fastify cannot decode (malformed percent-encoding) or route (a parameter over its length) is
    // answered by fastify itself, before any hook: its own body, no request id, no log line. The router's
    // error handler answers it instead (no handler set with setErrorHandler reaches these), and it gets its
    // access line like any request.
    frameworkErrors: (error, request, reply) => {
      reply.header(REQUEST_ID_HEADER, request.id);
      reply.raw.on('finish', () => accessLog.requestCompleted(null, request, reply));
      handleError(error, request, reply);
    },
    // Node would answer an HTTP/1.1 request without Host itself, with an empty 400: the onRequest hook
    // below refuses it instead, with a catalogue code in the route's shape.
    http: { requireHostHeader: false },
  }) as unknown as FastifyInstance;
  // An expectation other than 100-continue: Node would answer a bare 417, which is no catalogue code. RFC
  // 9110 lets a server ignore it: the request is served as if it had none.
  app.server.on('checkExpectation', (request, response) => app.server.emit('request', request, response));
  // 100 Continue only once a request's headers passed (the inference routes send it, the only ones that
  // read a body); any other route answers without the body.
  deferContinue(app.server);

  installErrorHandler(app);
  closeSilentConnectionsOnClose(app);
  endKeptAliveConnectionsOnClose(app);

  // Set once the app is closing (shutdown, after the drain delay): fastify's own flag is not public.
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onRequest', (request, reply, done) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    if (closing) {
      done(new RouterError('not_ready', { message: 'The data plane is shutting down.' }));
      return;
    }
    if (request.headers.host === undefined && request.raw.httpVersion === '1.1') {
      done(new RouterError('invalid_request', { message: 'An HTTP/1.1 request must have a Host header.' }));
      return;
    }
    if (request.routeOptions.config.alwaysAvailable === true || deps.activePolicy() !== undefined) {
      done();
      return;
    }
    done(new RouterError('not_ready'));
  });

  registerHealthRoutes(app, { readiness: deps.readiness, metricsRegistry: deps.metricsRegistry });
  // The inference API, after the health routes, with the same hooks and error handler.
  if (deps.inference !== undefined) registerInferenceRoutes(app, deps.inference, accessLog);

  return app;
}
