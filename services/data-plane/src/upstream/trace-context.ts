import type { IncomingHttpHeaders } from 'node:http';
import {
  context,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import type { RandomBytes } from '../random-pool.js';

/** The trace context of one upstream attempt. End it when the attempt is over. */
export interface UpstreamTrace {
  /** `traceparent` (always) and `tracestate` (when known) for the upstream request. */
  readonly headers: Readonly<Record<string, string>>;
  end(error?: unknown): void;
}

const TRACEPARENT_PATTERN = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_SPAN_ID = '0'.repeat(16);

/** The `end` of an attempt with tracing off: there is no span to end. */
function endNothing(): void {}

/**
 * Starts a CLIENT span for an upstream attempt, child of the client's W3C trace context, and returns the
 * headers that propagate it (through the OpenTelemetry API's global propagator and the active context).
 * The backend must see a trace context even where nothing is traced, so without one from the API the router
 * continues the client's trace itself (same trace id and flags, a fresh parent id) or, when the client sent
 * none (or an invalid one), starts a new unsampled trace. `tracer` is undefined when tracing is off (see
 * createTracing): the attempt then goes straight to those headers.
 */
export function startUpstreamTrace(
  tracer: Tracer | undefined,
  clientHeaders: IncomingHttpHeaders,
  name: string,
  randomBytes: RandomBytes,
): UpstreamTrace {
  if (tracer === undefined)
    return { headers: fallbackTraceHeaders(clientHeaders, randomBytes), end: endNothing };
  const parent = propagation.extract(context.active(), clientHeaders);
  const span: Span = tracer.startSpan(name, { kind: SpanKind.CLIENT }, parent);
  const headers: Record<string, string> = {};
  propagation.inject(trace.setSpan(parent, span), headers);
  if (headers.traceparent === undefined)
    Object.assign(headers, fallbackTraceHeaders(clientHeaders, randomBytes));
  return {
    headers,
    end(error) {
      if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    },
  };
}

/** A child of the client's valid traceparent, or a new root; tracestate passes through with its parent. */
export function fallbackTraceHeaders(
  clientHeaders: IncomingHttpHeaders,
  randomBytes: RandomBytes,
): Record<string, string> {
  const incoming = clientHeaders.traceparent;
  const match = typeof incoming === 'string' ? TRACEPARENT_PATTERN.exec(incoming.trim()) : null;
  // One draw for both ids: the hot path pays for one call to the CSPRNG, not two.
  const ids = randomBytes(24).toString('hex');
  const spanId = ids.slice(0, 16);
  if (match?.[1] !== undefined && match[1] !== ZERO_TRACE_ID && match[2] !== ZERO_SPAN_ID) {
    const headers: Record<string, string> = { traceparent: `00-${match[1]}-${spanId}-${match[3] ?? '00'}` };
    const state = clientHeaders.tracestate;
    if (typeof state === 'string' && state !== '') headers.tracestate = state;
    return headers;
  }
  return { traceparent: `00-${ids.slice(16)}-${spanId}-00` };
}
