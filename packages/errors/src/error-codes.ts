/**
 * The closed catalogue of error codes the router returns. docs/errors.md lists the same codes (a test checks
 * both directions). Adding a code: add it here and document it there.
 */
export const ERROR_CATALOGUE = {
  invalid_request: { status: 400, retryable: false, message: 'The request is malformed or invalid.' },
  upstream_rejected: {
    status: 400,
    retryable: false,
    message: 'The model backend refused the request as invalid.',
  },
  unauthenticated: { status: 401, retryable: false, message: 'Missing or invalid credentials.' },
  budget_exhausted: {
    status: 402,
    retryable: false,
    message: 'The budget for this key or tenant is exhausted.',
  },
  model_not_allowed: { status: 403, retryable: false, message: 'This key may not use the requested model.' },
  permission_denied: { status: 403, retryable: false, message: 'The caller may not perform this operation.' },
  not_found: { status: 404, retryable: false, message: 'No such resource.' },
  model_not_found: { status: 404, retryable: false, message: 'The requested model does not exist.' },
  request_timeout: {
    status: 408,
    retryable: true,
    message: 'The request (headers and body) was not received in time.',
  },
  payload_too_large: { status: 413, retryable: false, message: 'The request body is too large.' },
  unsupported_media_type: {
    status: 415,
    retryable: false,
    message: 'The content type must be application/json.',
  },
  rate_limited: { status: 429, retryable: true, message: 'Rate limit exceeded.' },
  request_exceeds_limit: {
    status: 429,
    retryable: false,
    message: 'The request costs more than a rate limit can ever grant at once.',
  },
  request_header_too_large: {
    status: 431,
    retryable: false,
    message: 'The request headers are too large.',
  },
  internal: { status: 500, retryable: true, message: 'Internal error.' },
  upstream_error: { status: 502, retryable: true, message: 'The model backend returned an error.' },
  not_ready: { status: 503, retryable: true, message: 'The router has no active policy yet.' },
  no_backend: { status: 503, retryable: true, message: 'No backend is available for this model.' },
  dependency_unavailable: { status: 503, retryable: true, message: 'A required dependency is unavailable.' },
  upstream_timeout: { status: 504, retryable: true, message: 'The model backend did not answer in time.' },
} as const satisfies Record<string, { status: number; retryable: boolean; message: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export const ERROR_CODES = Object.keys(ERROR_CATALOGUE) as ErrorCode[];
