import { afterEach, describe, expect, it } from 'vitest';
import { propagation, trace } from '@opentelemetry/api';
import type { TextMapPropagator } from '@opentelemetry/api';
import { pooledRandomBytes } from '../random-pool.js';
import { fallbackTraceHeaders, startUpstreamTrace } from './trace-context.js';

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

describe('fallbackTraceHeaders (tracing off)', () => {
  const parentWithFlags = (flags: string) => `00-${CLIENT_TRACE_ID}-b7ad6b7169203331-${flags}`;
  const flagsOf = (headers: Record<string, string>) => TRACEPARENT.exec(headers.traceparent ?? '')?.[3];

  it('keeps only the sampled flag of the client: W3C level 1 says to zero the others', () => {
    expect(flagsOf(fallbackTraceHeaders({ traceparent: parentWithFlags('ff') }, randomBytes))).toBe('01');
    expect(flagsOf(fallbackTraceHeaders({ traceparent: parentWithFlags('fe') }, randomBytes))).toBe('00');
    expect(flagsOf(fallbackTraceHeaders({ traceparent: parentWithFlags('01') }, randomBytes))).toBe('01');
    expect(flagsOf(fallbackTraceHeaders({ traceparent: parentWithFlags('00') }, randomBytes))).toBe('00');
  });

  it('continues a trace of a later version as W3C asks (its first four fields), never version ff', () => {
    const traceIdOf = (traceparent: string) =>
      TRACEPARENT.exec(fallbackTraceHeaders({ traceparent }, randomBytes).traceparent ?? '')?.[1];
    expect(traceIdOf(`01-${CLIENT_TRACE_ID}-b7ad6b7169203331-01`)).toBe(CLIENT_TRACE_ID);
    expect(traceIdOf(`cc-${CLIENT_TRACE_ID}-b7ad6b7169203331-01-what-comes-next`)).toBe(CLIENT_TRACE_ID);
    // Version 00 has nothing after its flags; ff is no version.
    expect(traceIdOf(`00-${CLIENT_TRACE_ID}-b7ad6b7169203331-01-extra`)).not.toBe(CLIENT_TRACE_ID);
    expect(traceIdOf(`ff-${CLIENT_TRACE_ID}-b7ad6b7169203331-01`)).not.toBe(CLIENT_TRACE_ID);
    expect(traceIdOf(`01-${CLIENT_TRACE_ID}-b7ad6b7169203331-01x`)).not.toBe(CLIENT_TRACE_ID);
  });

  it('forwards a tracestate only when it is printable ASCII of at most 512 characters', () => {
    const stateFor = (tracestate: string) =>
      fallbackTraceHeaders({ traceparent: CLIENT_PARENT, tracestate }, randomBytes).tracestate;
    const longest = `a=${'b'.repeat(510)}`;
    expect(stateFor(longest)).toBe(longest);
    expect(stateFor('congo=t61rcWkgMzE, rojo=00f067aa0ba902b7')).toBe(
      'congo=t61rcWkgMzE, rojo=00f067aa0ba902b7',
    );
    // What OpenTelemetry's propagator would drop too (tracing on): too long, or not the header's charset.
    expect(stateFor(`${longest}c`)).toBeUndefined();
    expect(stateFor(`a=${'b'.repeat(16_000)}`)).toBeUndefined();
    expect(stateFor('a=\u00ff')).toBeUndefined();
    expect(stateFor('a=1\u0000')).toBeUndefined();
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
