/** An error the mock renders as an OpenAI-style error body; thrown by handlers, rendered by the app's error handler. */
export class OpenAIError extends Error {
  override readonly name = 'OpenAIError';
  /** HTTP status of the response (400–599). */
  readonly status: number;
  /** OpenAI `error.type`, derived from the status unless given. */
  readonly type: string;
  /** OpenAI `error.code`, or null. */
  readonly code: string | null;
  /** OpenAI `error.param`: the offending request field, or null. */
  readonly param: string | null;

  constructor(
    status: number,
    message: string,
    options: { code?: string; param?: string; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = status;
    this.type = errorTypeForStatus(status);
    this.code = options.code ?? null;
    this.param = options.param ?? null;
  }
}

/** The wire shape of an OpenAI error response. */
export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export function toOpenAIErrorBody(error: OpenAIError): OpenAIErrorBody {
  return { error: { message: error.message, type: error.type, param: error.param, code: error.code } };
}

/** The `error.type` OpenAI uses for a status class. */
export function errorTypeForStatus(status: number): string {
  switch (status) {
    case 401:
      return 'authentication_error';
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
