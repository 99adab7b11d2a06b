import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RouterError, toRouterError, type ErrorCode } from '@api-router/errors';
import { CLIENT_CLOSED_STATUS, ClientClosedError } from '../inference/request-signal.js';
import { renderErrorBody, type ErrorShape, type RouterErrorBody } from './error-body.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Wire form of this route's errors; default 'router'. OpenAI-compatible routes use 'openai'. */
    errorShape?: ErrorShape;
  }
}

/** The wire form of every error the data plane returns on its own routes. */
export type ErrorBody = RouterErrorBody;

/**
 * Installs THE place where errors become responses: handlers and hooks throw RouterError (or anything),
 * this renders the body (error-body.ts; the router's `{ error: { code, message, request_id, retryable } }`,
 * or OpenAI's shape on routes configured with `errorShape: 'openai'`) with the catalogue's status, sets
 * Retry-After when the error carries one and `x-should-retry` from the catalogue's retryable flag, and logs the internal cause (never sent to the client). A request
 * whose client left is no failure of the router: a debug line, no body (the access line says 499).
 */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler(handleError);
  app.setNotFoundHandler(() => {
    throw new RouterError('not_found', { message: 'No such route.' });
  });
}

/**
 * The error handler itself; also called directly for fastify's framework errors (app.ts), which reach no
 * error handler set with setErrorHandler.
 */
export function handleError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  // The client left: its request's signal says so, or its body failed to arrive (the error the request
  // stream was destroyed with, e.g. ECONNRESET "aborted" mid-upload).
  if (error instanceof ClientClosedError || (error instanceof Error && error === request.raw.errored)) {
    request.log.debug({ status: CLIENT_CLOSED_STATUS }, 'client closed the connection');
    return reply.code(CLIENT_CLOSED_STATUS).send();
  }
  const routerError = fromFastifyError(error);
  logError(request, routerError);
  return sendError(reply, routerError, request);
}

function sendError(reply: FastifyReply, error: RouterError, request: FastifyRequest): FastifyReply {
  const shape = request.routeOptions.config.errorShape ?? (request.is404 ? unroutedShape(request) : 'router');
  if (error.retryAfterSeconds !== undefined) {
    reply.header('retry-after', String(Math.max(0, Math.ceil(error.retryAfterSeconds))));
  }
  // The catalogue's retryable flag, in the header the OpenAI (and Anthropic) SDKs obey before their own
  // status rules: without it they retry every 429, also one retrying cannot help (request_exceeds_limit).
  reply.header('x-should-retry', String(error.retryable));
  return reply
    .code(error.status)
    .type('application/json; charset=utf-8')
    .send(renderErrorBody(error, request.id, shape));
}

/**
 * The shape of a 404 for a path no route serves (a wrong path or method): OpenAI's under /v1/ (an OpenAI
 * client calling an endpoint the router does not offer, /v1/embeddings, reads OpenAI's shape), except the
 * router's own /v1/inference.
 */
function unroutedShape(request: FastifyRequest): ErrorShape {
  const url = request.url;
  if (!url.startsWith('/v1/')) return 'router';
  // Exactly /v1/inference (a query string aside): /v1/inferences is another path under /v1/.
  const queryAt = url.indexOf('?');
  return (queryAt === -1 ? url : url.slice(0, queryAt)) === '/v1/inference' ? 'router' : 'openai';
}

/**
 * fastify's own errors (content-type parser, body limit, schema validation) become catalogue codes; their
 * messages are safe to show (they describe the request, not our internals). Everything else is `internal`.
 */
export function fromFastifyError(error: unknown): RouterError {
  if (error instanceof RouterError) return error;
  if (!isFastifyError(error)) return toRouterError(error);
  const code = catalogueCodeFor(error);
  if (code === undefined) return toRouterError(error);
  const invalid = error.validation === undefined ? undefined : describeValidation(error.validation);
  return new RouterError(code, {
    message: invalid?.message ?? error.message,
    cause: error,
    ...(invalid?.param === undefined ? {} : { details: { param: invalid.param } }),
  });
}

type SchemaError = NonNullable<FastifyError['validation']>[number];

/**
 * One message about the body field a schema validation failed on, and that field ("messages",
 * "messages.0.role") for OpenAI's `param`. ajv reports every branch of a nullable field's `anyOf` (`must be
 * null`, `must be <= 2`, `must match a schema in anyOf`); the message keeps the one that says what is wrong.
 */
export function describeValidation(errors: readonly SchemaError[]): { message: string; param?: string } {
  const chosen = errors.find((entry) => !isBranchSummary(entry)) ?? errors[0];
  if (chosen === undefined) return { message: 'The body is invalid.' };
  const path = chosen.instancePath.split('/').filter((part) => part !== '');
  const missing = (chosen.params as { missingProperty?: unknown } | undefined)?.missingProperty;
  if (typeof missing === 'string') {
    const param = [...path, missing].join('.');
    return { message: `Missing required parameter: '${param}'.`, param };
  }
  const problem = problemOf(chosen);
  if (path.length === 0) return { message: `Invalid body: ${problem}.` };
  const param = path.join('.');
  return { message: `Invalid '${param}': ${problem}.`, param };
}

/**
 * ajv's message, except where it hides what is accepted: an enum names its values (ajv: "must be equal to
 * one of the allowed values"), a union of types reads "boolean or null" (ajv: "boolean,null").
 */
function problemOf(entry: SchemaError): string {
  const params = entry.params as { allowedValues?: unknown; type?: unknown } | undefined;
  if (entry.keyword === 'enum' && Array.isArray(params?.allowedValues)) {
    return `must be one of ${params.allowedValues.map((value) => JSON.stringify(value)).join(', ')}`;
  }
  if (entry.keyword === 'type' && (Array.isArray(params?.type) || typeof params?.type === 'string')) {
    const types: unknown[] = Array.isArray(params.type) ? params.type : String(params.type).split(',');
    return `must be ${types.join(' or ')}`;
  }
  return entry.message ?? 'does not match the schema';
}

/** An anyOf / oneOf summary, or the failed `null` branch of a nullable field: neither says what is wrong. */
function isBranchSummary(entry: SchemaError): boolean {
  if (entry.keyword === 'anyOf' || entry.keyword === 'oneOf') return true;
  return entry.keyword === 'type' && (entry.params as { type?: unknown }).type === 'null';
}

function catalogueCodeFor(error: FastifyError): ErrorCode | undefined {
  if (error.validation !== undefined) return 'invalid_request';
  switch (error.statusCode) {
    case 413:
      return 'payload_too_large';
    case 415:
      return 'unsupported_media_type';
    case 404:
      return 'not_found';
    default:
      return error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500
        ? 'invalid_request'
        : undefined;
  }
}

function isFastifyError(error: unknown): error is FastifyError {
  return (
    error instanceof Error &&
    typeof (error as Partial<FastifyError>).code === 'string' &&
    ((error as FastifyError).code.startsWith('FST_') || (error as FastifyError).validation !== undefined)
  );
}

function logError(request: FastifyRequest, error: RouterError): void {
  // Only unexpected failures carry a stack worth an error line; expected refusals (not_ready, 4xx) are
  // routine and would flood the log at error level.
  if (error.code === 'internal') {
    request.log.error(
      { code: error.code, status: error.status, err: error.cause ?? error },
      'request failed',
    );
  } else if (error.status >= 500) {
    // The cause (an undici error, the start of a backend's body) is for the operator, never the client.
    const cause = error.cause === undefined ? {} : { err: error.cause };
    request.log.warn({ code: error.code, status: error.status, ...cause }, 'request refused');
  } else {
    request.log.info({ code: error.code, status: error.status }, 'request rejected');
  }
}
