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

/**
 * W3C traceparent: version, trace id, parent id, flags. A later version may add fields after a `-`, and is
 * read by its first four (the spec's forward compatibility, as OpenTelemetry's propagator does); version 00
 * has none, and ff is invalid.
 */
const TRACEPARENT_PATTERN = /^(?!ff)([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_SPAN_ID = '0'.repeat(16);
/**
 * A client's tracestate goes on only when it could be one: at most 512 characters (past that, OpenTelemetry's
 * propagator drops it whole, as tracing on would) of printable ASCII and the list's optional tabs. Anything
 * else (kilobytes of it, obs-text) would be sent to every backend as the client wrote it.
 */
const TRACESTATE_PATTERN = /^[\t\x20-\x7e]{1,512}$/;
/** The last hex digit of trace-flags with the sampled bit (0x01) set. */
const SAMPLED_DIGITS = '13579bdf';

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

/**
 * A child of the client's valid traceparent (its sampled flag kept), or a new root; a valid tracestate passes
 * through with its parent.
 */
export function fallbackTraceHeaders(
  clientHeaders: IncomingHttpHeaders,
  randomBytes: RandomBytes,
): Record<string, string> {
  const incoming = clientHeaders.traceparent;
  const match = typeof incoming === 'string' ? TRACEPARENT_PATTERN.exec(incoming.trim()) : null;
  // One draw for both ids: the hot path pays for one call to the CSPRNG, not two.
  const ids = randomBytes(24).toString('hex');
  const spanId = ids.slice(0, 16);
  const traceId = match?.[2];
  if (
    match !== null &&
    traceId !== undefined &&
    !(match[1] === '00' && match[5] !== undefined) &&
    traceId !== ZERO_TRACE_ID &&
    match[3] !== ZERO_SPAN_ID
  ) {
    // Only the sampled flag is kept: W3C trace context (level 1) has the other bits zeroed by whoever
    // passes a trace on, as OpenTelemetry's spans do. The router writes version 00, the one it knows.
    const sampled = SAMPLED_DIGITS.includes(match[4]?.[1] ?? '0');
    const headers: Record<string, string> = {
      traceparent: `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`,
    };
    const state = clientHeaders.tracestate;
    if (typeof state === 'string' && TRACESTATE_PATTERN.test(state)) headers.tracestate = state;
    return headers;
  }
  return { traceparent: `00-${ids.slice(16)}-${spanId}-00` };
}
