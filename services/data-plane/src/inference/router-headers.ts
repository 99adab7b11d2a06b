import type { InferenceRequestState, RouterTimings } from './request-state.js';

/** Milliseconds with microsecond resolution, as a header value. */
export function formatMs(ms: number): string {
  return ms.toFixed(3);
}

/** Milliseconds rounded to the microsecond, as a JSON value (8.746, not 8.745847999998659). */
export function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/**
 * The router's metrics as `x-router-*` response headers (OpenAI-compatible routes; `x-router-overhead-ms`
 * on every inference route). For a stream they are measured when the response headers are sent: total and
 * upstream time are then "until the backend's response headers", and the final figures follow in the
 * stream's closing `: router {...}` comment.
 */
export function routerHeaders(state: InferenceRequestState, timings: RouterTimings): Record<string, string> {
  const headers: Record<string, string> = {
    'x-router-route': state.routeId ?? '',
    'x-router-backend': state.backendId ?? '',
    'x-router-attempts': String(state.attempts),
    'x-router-total-ms': formatMs(timings.totalMs),
    'x-router-upstream-ms': formatMs(timings.upstreamMs),
    'x-router-overhead-ms': formatMs(timings.overheadMs),
    'x-router-queue-ms': formatMs(timings.queueMs),
    'x-router-policy-version': state.policyVersion.toString(),
  };
  return headers;
}

/** The same figures as a JSON object with the proto's field names (router.v1.RouterMetrics). */
export function routerMetricsJson(
  requestId: string,
  state: InferenceRequestState,
  timings: RouterTimings,
): Record<string, unknown> {
  const json: Record<string, unknown> = {
    request_id: requestId,
    route_id: state.routeId ?? '',
    backend_id: state.backendId ?? '',
    attempts: state.attempts,
    total_ms: roundMs(timings.totalMs),
    upstream_ms: roundMs(timings.upstreamMs),
    overhead_ms: roundMs(timings.overheadMs),
    queue_ms: roundMs(timings.queueMs),
    policy_version: state.policyVersion.toString(),
  };
  if (timings.timeToFirstTokenMs !== undefined)
    json.time_to_first_token_ms = roundMs(timings.timeToFirstTokenMs);
  return json;
}
