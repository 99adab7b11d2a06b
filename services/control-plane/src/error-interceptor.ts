import type { JsonObject } from '@bufbuild/protobuf';
import { Code, ConnectError, type Interceptor } from '@connectrpc/connect';
import { ErrorDetailSchema } from '@api-router/contracts';
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
 * Both carry one `router.v1.ErrorDetail` in the error's details (catalogue code, public message, retryable,
 * public details): several catalogue codes share a Connect code (`not_ready` and `dependency_unavailable`
 * are both UNAVAILABLE), and a client's handling must not depend on parsing messages. Errors raised while
 * a server stream runs are converted the same way.
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
    return withDetail(error);
  }
  logger.error({ err: error, procedure }, 'rpc failed');
  return withDetail(new RouterError('internal', { message: 'Internal error.' }));
}

function withDetail(error: RouterError): ConnectError {
  const detail = {
    code: error.code,
    message: error.message,
    retryable: error.retryable,
    // Public facts only (RouterErrorOptions.details); the cause never leaves the process.
    details: asStruct(error.details),
  };
  return new ConnectError(error.message, CONNECT_CODES[error.code], undefined, [
    { desc: ErrorDetailSchema, value: detail },
  ]);
}

/**
 * `details` as a google.protobuf.Struct can hold them: through JSON, as the data plane renders them (an
 * undefined field is left out). Details JSON cannot hold (a bigint) are dropped rather than failing the
 * error's encoding, which would replace the error the client should see.
 */
function asStruct(details: Record<string, unknown> | undefined): JsonObject | undefined {
  if (details === undefined) return undefined;
  try {
    return JSON.parse(JSON.stringify(details)) as JsonObject;
  } catch {
    return undefined;
  }
}
