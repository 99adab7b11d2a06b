import { afterEach, describe, expect, it } from 'vitest';
import { propagation, trace } from '@opentelemetry/api';
import type { TextMapPropagator } from '@opentelemetry/api';
import { pooledRandomBytes } from '../random-pool.js';
import { startUpstreamTrace } from './trace-context.js';

const CLIENT_TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const CLIENT_PARENT = `00-${CLIENT_TRACE_ID}-b7ad6b7169203331-01`;
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

afterEach(() => {
  propagation.disable();
});

const randomBytes = pooledRandomBytes();

// Tracing off in the service (no tracer), and the API's no-op tracer with no propagator registered.
describe.each([
  ['no tracer', undefined],
  ['the no-op tracer', trace.getTracer('test')],
])('startUpstreamTrace with %s', (_name, tracer) => {
  it('continues the client trace with a new parent id', () => {
    const upstream = startUpstreamTrace(
      tracer,
      { traceparent: CLIENT_PARENT, tracestate: 'vendor=1' },
      'upstream',
      randomBytes,
    );
    const [, traceId, spanId, flags] = TRACEPARENT.exec(upstream.headers.traceparent ?? '') ?? [];
    expect(traceId).toBe(CLIENT_TRACE_ID);
    expect(spanId).not.toBe('b7ad6b7169203331');
    expect(flags).toBe('01');
    expect(upstream.headers.tracestate).toBe('vendor=1');
    upstream.end();
  });

  it('starts a new trace when the client sent none or an invalid one', () => {
    for (const headers of [
      {},
      { traceparent: 'garbage' },
      { traceparent: `00-${'0'.repeat(32)}-b7ad6b7169203331-01` },
    ]) {
      const upstream = startUpstreamTrace(tracer, headers, 'upstream', randomBytes);
      const [, traceId] = TRACEPARENT.exec(upstream.headers.traceparent ?? '') ?? [];
      expect(traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(traceId).not.toBe('0'.repeat(32));
      expect(upstream.headers.tracestate).toBeUndefined();
    }
  });
});

describe('startUpstreamTrace with a propagator', () => {
  const tracer = trace.getTracer('test');

  it('propagates through the OpenTelemetry API when a propagator is registered', () => {
    const injected = `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`;
    const fake: TextMapPropagator = {
      inject: (_context, carrier: Record<string, string>) => {
        carrier.traceparent = injected;
      },
      extract: (context) => context,
      fields: () => ['traceparent'],
    };
    propagation.setGlobalPropagator(fake);
    const upstream = startUpstreamTrace(tracer, { traceparent: CLIENT_PARENT }, 'upstream', randomBytes);
    expect(upstream.headers.traceparent).toBe(injected);
  });

  it('ignores it when tracing is off (no tracer): the router continues the client trace itself', () => {
    propagation.setGlobalPropagator({
      inject: (_context, carrier: Record<string, string>) => {
        carrier.traceparent = `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`;
      },
      extract: (context) => context,
      fields: () => ['traceparent'],
    });
    const upstream = startUpstreamTrace(undefined, { traceparent: CLIENT_PARENT }, 'upstream', randomBytes);
    expect(TRACEPARENT.exec(upstream.headers.traceparent ?? '')?.[1]).toBe(CLIENT_TRACE_ID);
  });
});
