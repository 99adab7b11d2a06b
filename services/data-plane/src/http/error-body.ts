import type { ErrorCode, RouterError } from '@api-router/errors';

/** Which wire form errors take on a route: the router's own, or OpenAI's (for OpenAI-compatible clients). */
export type ErrorShape = 'router' | 'openai';

/** The router's error body (router.v1.ErrorResponse): /v1/inference, health, admin surfaces. */
export interface RouterErrorBody {
  error: {
    code: ErrorCode;
    message: string;
    request_id: string;
    retryable: boolean;
    details?: Record<string, unknown>;
  };
}

/** OpenAI's error body, which OpenAI SDKs parse: /v1/chat/completions and /v1/models. */
export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: ErrorCode };
}

/**
 * THE place where an error becomes a body, in either shape; the error handler and the stream relay (for
 * the error event that ends a broken stream) both render through it. Only public fields are rendered:
 * the message and details the error was built with, never its cause.
 */
export function renderErrorBody(
  error: RouterError,
  requestId: string,
  shape: ErrorShape,
): RouterErrorBody | OpenAIErrorBody {
  if (shape === 'openai') {
    const param = error.details?.param;
    return {
      error: {
        message: error.message,
        type: openAIErrorType(error.status),
        param: typeof param === 'string' ? param : null,
        code: error.code,
      },
    };
  }
  const body: RouterErrorBody = {
    error: { code: error.code, message: error.message, request_id: requestId, retryable: error.retryable },
  };
  if (error.details !== undefined) body.error.details = error.details;
  return body;
}

/** OpenAI's `error.type` for a status, as its API and SDKs use them. */
export function openAIErrorType(status: number): string {
  switch (status) {
    case 400:
    case 413:
    case 415:
      return 'invalid_request_error';
    case 401:
      return 'authentication_error';
    case 402:
      return 'insufficient_quota';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 429:
      return 'rate_limit_error';
    default:
      return status >= 500 ? 'server_error' : 'invalid_request_error';
  }
}
