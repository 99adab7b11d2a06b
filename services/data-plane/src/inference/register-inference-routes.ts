import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RouterError } from '@api-router/errors';
import type { RuntimePolicy } from '@api-router/policy';
import type { RequestAuthenticator } from '../auth/request-authenticator.js';
import type { ResolvedCredentials } from '../credentials/credential-resolver.js';
import type { AccessLogController } from '../http/access-log.js';
import { unreadableBodyEncoding } from '../http/body-encoding.js';
import { limitBodyLength } from '../http/body-length-limit.js';
import { sendContinue } from '../http/expect-continue.js';
import { parseJsonBody } from '../http/json-body.js';
import { authDeniedEvent, authRateLimitedEvent } from '../records/denial-events.js';
import type { ActivePolicy } from '../policy/policy-holder.js';
import { CHAT_COMPLETION_BODY_SCHEMA } from '../openai/chat-completion-schema.js';
import { createChatCompletionsHandler } from '../openai/chat-completions-handler.js';
import { listModels, retrieveModel } from '../openai/models-handler.js';
import { createInferenceHandler } from './inference-handler.js';
import { inferenceState, requestPolicy, type InferenceHandlerDeps } from './inference-session.js';
import { createRequestState, routerTimings, type InferenceRequestState } from './request-state.js';
import type { RunningRequests } from './running-requests.js';

export interface InferenceRoutesDeps extends InferenceHandlerDeps {
  /** The active policy (the app's not_ready gate guarantees one on these routes). */
  activePolicy: () => ActivePolicy | undefined;
  /** Secrets resolved for a policy when it was applied. */
  credentialsFor: (policy: RuntimePolicy) => ResolvedCredentials | undefined;
  authenticate: RequestAuthenticator;
  /** The requests still being processed: shutdown waits for them before it closes the outbox. */
  runningRequests: RunningRequests;
}

/** What the routes' hooks use: the deps, and the access log for the line of a request whose client left. */
interface RoutesContext extends InferenceRoutesDeps {
  readonly accessLog: Pick<AccessLogController, 'requestAborted'>;
}

/**
 * Registers the inference API in its own fastify scope: POST /v1/inference, POST /v1/chat/completions,
 * GET /v1/models and GET /v1/models/{model}. Per request, in order: capture the active policy (one policy serves the whole request);
 * refuse a declared body over the policy's max_body_bytes capped by the server's DP_MAX_BODY_BYTES (413; a
 * chunked one as it is read), sending 100 Continue only then to a client that waits for it; read the body
 * as raw bytes, only for uncompressed `application/json` (else 415); authenticate (key or
 * signature, over those exact bytes; 401 with one body for every reason, the reason in logs and router_auth_failures_total);
 * parse the JSON safely (400); validate (chat schema / proto contract, 400); handle. Request metrics are
 * recorded when the response closes, however it ends.
 */
export function registerInferenceRoutes(
  app: FastifyInstance,
  deps: InferenceRoutesDeps,
  accessLog: Pick<AccessLogController, 'requestAborted'>,
): void {
  const context: RoutesContext = { ...deps, accessLog };
  // The server's own body ceiling (DP_MAX_BODY_BYTES) caps the policy's: refuse over the smaller one, and
  // name it, before reading the body.
  const ceilingBytes = app.initialConfig.bodyLimit ?? Number.POSITIVE_INFINITY;
  const bodyLimitFor = (request: FastifyRequest): number =>
    Math.min(requestPolicy(request).policy.settings.maxBodyBytes, ceilingBytes);
  void app.register((scope, _options, done) => {
    scope.decorateRequest('inferenceState', null);
    scope.decorateRequest('requestPolicy', null);
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, parsed) => {
      const bytes = body as Buffer;
      const maxBodyBytes = bodyLimitFor(request);
      if (bytes.length > maxBodyBytes) {
        parsed(tooLarge(maxBodyBytes), undefined);
        return;
      }
      // Compressed: its bytes read as JSON would not say what the client sent.
      const unreadable = unreadableBodyEncoding(request.headers);
      if (unreadable !== undefined) {
        parsed(unreadable, undefined);
        return;
      }
      inferenceState(request).rawBody = bytes;
      parsed(null, bytes);
    });
    scope.addHook('onRequest', (request, reply, hookDone) => {
      const refused = beginRequest(context, request, reply, bodyLimitFor);
      // A client that waits for 100 Continue sends its body now, not before a refusal on its headers.
      if (refused === undefined) sendContinue(request, reply);
      hookDone(refused);
    });
    // A body without a declared length (chunked) is counted against the policy's limit as it is read:
    // fastify's own count stops only at the server's ceiling. Declared lengths were checked on arrival;
    // a request with neither header has no body.
    scope.addHook('preParsing', (request, _reply, payload, hookDone) => {
      if (request.headers['transfer-encoding'] === undefined) {
        hookDone(null, payload);
        return;
      }
      const maxBodyBytes = bodyLimitFor(request);
      hookDone(
        null,
        limitBodyLength(payload, maxBodyBytes, () => tooLarge(maxBodyBytes)),
      );
    });
    const { runningRequests } = deps;
    // A request refused before its handler (here, in a hook, by the body parser or by validation) is
    // processed until its error reaches the error handler; after a handler began, its promise counts.
    scope.addHook('onError', (request, reply, _error, hookDone) => {
      if (request.inferenceState !== null) runningRequests.end(request.inferenceState);
      // Refused by the app's own onRequest hook (no Host, not ready, closing), which runs before this
      // scope's: no state yet, but the request is counted all the same (route none) when its response closes.
      else countWhenClosed(context, request, reply);
      hookDone();
    });
    scope.addHook('preValidation', async (request) => {
      await authenticate(deps, request);
      const state = inferenceState(request);
      if (request.method === 'POST') {
        const raw = state.rawBody;
        if (raw === undefined) throw new RouterError('unsupported_media_type');
        request.body = parseJsonBody(raw);
        state.rawBody = undefined;
      } else {
        // The GET handlers append nothing: this request's last append is behind it.
        runningRequests.end(state);
      }
    });
    scope.post('/v1/inference', runningRequests.track(createInferenceHandler(deps), inferenceState));
    scope.post(
      '/v1/chat/completions',
      { schema: { body: CHAT_COMPLETION_BODY_SCHEMA }, config: { errorShape: 'openai' } },
      runningRequests.track(createChatCompletionsHandler(deps), inferenceState),
    );
    scope.get('/v1/models', { config: { errorShape: 'openai' } }, listModels);
    scope.get('/v1/models/*', { config: { errorShape: 'openai' } }, retrieveModel);
    done();
  });
}

function beginRequest(
  deps: RoutesContext,
  request: FastifyRequest,
  reply: FastifyReply,
  bodyLimitFor: (request: FastifyRequest) => number,
): Error | undefined {
  const state = createRequestState(deps.now());
  request.inferenceState = state;
  // Counted until its processing ends (RunningRequests): shutdown must not close the outbox before.
  deps.runningRequests.begin(state);
  // `on`, not `once`: a response emits 'close' once, and once() would build a wrapper (three objects) that
  // lives as long as the request, as every per-request object does through the scavenges (docs/performance.md).
  reply.raw.on('close', () => {
    recordRequest(deps, state, reply);
    // A client that left before its answer finished cancels its session's upstream work.
    if (!reply.raw.writableFinished) state.requestSignal?.clientClosed();
  });
  const active = deps.activePolicy();
  if (active === undefined) return new RouterError('not_ready');
  const credentials = deps.credentialsFor(active.policy);
  if (credentials === undefined) {
    return new RouterError('internal', { cause: new Error('active policy has no resolved credentials') });
  }
  request.requestPolicy = { policy: active.policy, credentials };
  state.policyVersion = active.policy.version;
  const declaredBytes = Number(request.headers['content-length'] ?? 0);
  const maxBodyBytes = bodyLimitFor(request);
  return declaredBytes > maxBodyBytes ? tooLarge(maxBodyBytes) : undefined;
}

/** Records the request's metrics when its response closes (once, however it ends). */
function countWhenClosed(deps: RoutesContext, request: FastifyRequest, reply: FastifyReply): void {
  const state = createRequestState(deps.now());
  request.inferenceState = state;
  reply.raw.on('close', () => recordRequest(deps, state, reply));
}

function tooLarge(maxBodyBytes: number): RouterError {
  return new RouterError('payload_too_large', { message: `The request body exceeds ${maxBodyBytes} bytes.` });
}

async function authenticate(deps: InferenceRoutesDeps, request: FastifyRequest): Promise<void> {
  const state = inferenceState(request);
  const { policy, credentials } = requestPolicy(request);
  let result: Awaited<ReturnType<InferenceRoutesDeps['authenticate']>>;
  try {
    result = await deps.authenticate(
      {
        method: request.method,
        url: request.raw.url ?? request.url,
        headers: request.headers,
        rawHeaders: request.raw.rawHeaders,
        body: state.rawBody,
        scheme: request.protocol,
      },
      policy,
      credentials,
    );
  } catch (error: unknown) {
    // A 429 from authentication itself (a key over its share of the nonce store) is a denial like any
    // other 429: durable audit event first.
    if (error instanceof RouterError && error.status === 429) await auditAuthRateLimit(deps, request, error);
    throw error;
  }
  if (!result.ok) {
    deps.metrics.authFailuresTotal.inc({ reason: result.reason });
    request.log.info({ authFailure: result.reason, keyId: result.keyId }, 'authentication failed');
    // Durable before the 401 is sent; an outbox failure turns it into a 503 (never an unaudited denial).
    await deps.records.audit.record(
      authDeniedEvent(
        { requestId: request.id, method: request.method, route: request.routeOptions.url ?? '' },
        {
          reason: result.reason,
          keyPublicId: result.keyId,
          tenantId:
            result.keyId === undefined ? undefined : policy.apiKeysByPublicId.get(result.keyId)?.tenantId,
        },
      ),
    );
    // One error for every reason: the client must not learn which check failed.
    throw new RouterError('unauthenticated');
  }
  state.principal = result.principal;
}

async function auditAuthRateLimit(
  deps: InferenceRoutesDeps,
  request: FastifyRequest,
  error: RouterError,
): Promise<void> {
  const { policy } = requestPolicy(request);
  const claimed = error.details?.key_id;
  const key = typeof claimed === 'string' ? policy.apiKeysByPublicId.get(claimed) : undefined;
  const limit = error.details?.limit;
  await deps.records.audit.record(
    authRateLimitedEvent(
      { requestId: request.id, method: request.method, route: request.routeOptions.url ?? '' },
      {
        limit: typeof limit === 'string' ? limit : 'authentication',
        keyPublicId: key === undefined ? undefined : (claimed as string),
        tenantId: key?.tenantId,
        retryAfterSeconds: error.retryAfterSeconds,
      },
    ),
  );
}

function recordRequest(deps: RoutesContext, state: InferenceRequestState, reply: FastifyReply): void {
  if (state.recorded) return;
  state.recorded = true;
  const raw = reply.raw;
  const statusClass = raw.writableFinished ? `${Math.floor(raw.statusCode / 100)}xx` : 'aborted';
  const timings = routerTimings(state, deps.now());
  // fastify writes the access line when a response finishes; one that never did gets its line here, with
  // the upstream attempt still in flight counted.
  if (!raw.writableFinished) deps.accessLog.requestAborted(reply.request, reply, timings.upstreamMs);
  deps.metrics.countRequest(state.routeId ?? 'none', statusClass);
  if (state.attempts === 0) return;
  deps.metrics.overheadSeconds.observe(timings.overheadMs / 1000);
  if (timings.timeToFirstTokenMs !== undefined && state.routeId !== undefined) {
    deps.metrics.timeToFirstTokenSeconds.observe({ route: state.routeId }, timings.timeToFirstTokenMs / 1000);
  }
}
