import { Code, ConnectError, type Interceptor } from '@connectrpc/connect';
import { RouterError, type ErrorCode } from '@api-router/errors';
import type { Logger } from 'pino';

const CONNECT_CODES: Readonly<Record<ErrorCode, Code>> = {
  invalid_request: Code.InvalidArgument,
  upstream_rejected: Code.InvalidArgument,
  unauthenticated: Code.Unauthenticated,
  budget_exhausted: Code.ResourceExhausted,
  model_not_allowed: Code.PermissionDenied,
  permission_denied: Code.PermissionDenied,
  not_found: Code.NotFound,
  model_not_found: Code.NotFound,
  request_timeout: Code.DeadlineExceeded,
  payload_too_large: Code.InvalidArgument,
  unsupported_media_type: Code.InvalidArgument,
  rate_limited: Code.ResourceExhausted,
  request_exceeds_limit: Code.ResourceExhausted,
  request_header_too_large: Code.InvalidArgument,
  internal: Code.Internal,
  upstream_error: Code.Unavailable,
  not_ready: Code.Unavailable,
  no_backend: Code.Unavailable,
  dependency_unavailable: Code.Unavailable,
  upstream_timeout: Code.DeadlineExceeded,
};

/**
 * The one place where errors of RPC handlers (and of the interceptors inside this one) become wire errors:
 * a RouterError keeps its public message and gets the matching Connect code; a ConnectError passes as is;
 * anything else is logged with its cause and answered as a bare Internal error, so no internal detail leaks.
 * Errors raised while a server stream runs are converted the same way.
 */
export function createErrorInterceptor(logger: Logger): Interceptor {
  return (next) => async (request) => {
    const procedure = `${request.service.typeName}/${request.method.name}`;
    try {
      const response = await next(request);
      if (!response.stream) return response;
      return {
        ...response,
        message: convertStream(response.message, (error) => toConnectError(error, procedure, logger)),
      };
    } catch (error: unknown) {
      throw toConnectError(error, procedure, logger);
    }
  };
}

async function* convertStream<T>(
  messages: AsyncIterable<T>,
  convert: (error: unknown) => ConnectError,
): AsyncIterable<T> {
  try {
    yield* messages;
  } catch (error: unknown) {
    throw convert(error);
  }
}

/** Converts any thrown value into the ConnectError sent to the client. */
export function toConnectError(error: unknown, procedure: string, logger: Logger): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof RouterError) {
    if (error.code === 'internal') logger.error({ err: error.cause ?? error, procedure }, 'rpc failed');
    return new ConnectError(error.message, CONNECT_CODES[error.code]);
  }
  logger.error({ err: error, procedure }, 'rpc failed');
  return new ConnectError('Internal error.', Code.Internal);
}
