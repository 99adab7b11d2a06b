import { Counter, Histogram, type Registry } from 'prom-client';
import { AUTH_FAILURE_REASONS } from '../auth/auth-failure-reason.js';
import { PendingCounts } from './pending-counts.js';
import { RequestHistogram } from './request-histogram.js';

/** Metrics of the inference API. Labels are low-cardinality: route and backend ids, reasons, classes. */
export interface InferenceMetrics {
  /** router_requests_total{route,status_class}: every inference API request; route "none" before routing. */
  readonly requestsTotal: Counter<'route' | 'status_class'>;
  /** router_overhead_seconds: total time minus time spent waiting for backends, per request. */
  readonly overheadSeconds: RequestHistogram;
  /** router_upstream_duration_seconds{backend}: one upstream attempt, request sent to response complete. */
  readonly upstreamDurationSeconds: RequestHistogram<'backend'>;
  /** router_time_to_first_token_seconds{route}: streams, arrival to the first content sent. */
  readonly timeToFirstTokenSeconds: Histogram<'route'>;
  /** router_auth_failures_total{reason}: why requests were refused with 401. */
  readonly authFailuresTotal: Counter<'reason'>;
  /** router_upstream_attempts_total{backend,outcome}: response, or the failure kind. */
  readonly upstreamAttemptsTotal: Counter<'backend' | 'outcome'>;
  /** router_streams_truncated_total{route,reason}: streams that ended without a clean end. */
  readonly streamsTruncatedTotal: Counter<'route' | 'reason'>;
  /** router_upstream_aborts_total{reason}: upstream calls cancelled: client_disconnect or deadline. */
  readonly upstreamAbortsTotal: Counter<'reason'>;
  /** Counts a request in requestsTotal (every request: a plain addition, folded in at a scrape). */
  countRequest(route: string, statusClass: string): void;
  /** Counts an attempt in upstreamAttemptsTotal (like countRequest). */
  countAttempt(backend: string, outcome: string): void;
}

export function createInferenceMetrics(registry: Registry): InferenceMetrics {
  const registers = [registry];
  const requests = new PendingCounts(['route', 'status_class'] as const);
  const attempts = new PendingCounts(['backend', 'outcome'] as const);
  const metrics: InferenceMetrics = {
    requestsTotal: new Counter({
      name: 'router_requests_total',
      help: 'Inference API requests, by route and status class (2xx, 4xx, 5xx, aborted).',
      labelNames: ['route', 'status_class'],
      registers,
      collect() {
        requests.foldInto(this);
      },
    }),
    // Observed on every request (and every attempt): RequestHistogram, not prom-client's (its comment says why).
    overheadSeconds: new RequestHistogram({
      name: 'router_overhead_seconds',
      help: 'Time the router added to a request: total minus upstream time.',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registers,
    }),
    upstreamDurationSeconds: new RequestHistogram({
      name: 'router_upstream_duration_seconds',
      help: 'Duration of upstream attempts, request sent to response complete.',
      labelName: 'backend',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    timeToFirstTokenSeconds: new Histogram({
      name: 'router_time_to_first_token_seconds',
      help: 'Streams: time from request arrival to the first content chunk sent to the client.',
      labelNames: ['route'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    authFailuresTotal: new Counter({
      name: 'router_auth_failures_total',
      help: 'Requests refused with 401, by reason (the client sees the same body for every reason).',
      labelNames: ['reason'],
      registers,
    }),
    upstreamAttemptsTotal: new Counter({
      name: 'router_upstream_attempts_total',
      help: 'Upstream attempts by backend and outcome (response, connect_failed, connect_timeout, ...).',
      labelNames: ['backend', 'outcome'],
      registers,
      collect() {
        attempts.foldInto(this);
      },
    }),
    streamsTruncatedTotal: new Counter({
      name: 'router_streams_truncated_total',
      help: 'Streamed responses that ended with an error event instead of a clean end.',
      labelNames: ['route', 'reason'],
      registers,
    }),
    upstreamAbortsTotal: new Counter({
      name: 'router_upstream_aborts_total',
      help: 'Upstream calls cancelled by the router, by reason (client_disconnect, deadline).',
      labelNames: ['reason'],
      registers,
    }),
    countRequest(route, statusClass) {
      requests.add(route, statusClass);
    },
    countAttempt(backend, outcome) {
      attempts.add(backend, outcome);
    },
  };
  for (const reason of AUTH_FAILURE_REASONS) metrics.authFailuresTotal.inc({ reason }, 0);
  for (const reason of ['client_disconnect', 'deadline']) metrics.upstreamAbortsTotal.inc({ reason }, 0);
  return metrics;
}
