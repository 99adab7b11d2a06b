import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RouterError } from '@api-router/errors';
import { toAbortSignal } from '../cancel-signal.js';
import { systemTimers } from '../timers.js';
import { ClientClosedError, createRequestSignal } from './request-signal.js';

describe('createRequestSignal', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  const deps = { timers: systemTimers, now: () => Date.now() };

  it('aborts at the deadline with upstream_timeout, once, calling each listener once', () => {
    const signal = createRequestSignal(deps, 1000);
    const calls: unknown[] = [];
    signal.addEventListener('abort', () => calls.push(signal.reason));
    vi.advanceTimersByTime(999);
    expect(signal.aborted).toBe(false);
    expect(signal.remainingMs()).toBe(1);
    vi.advanceTimersByTime(1);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBeInstanceOf(RouterError);
    expect((signal.reason as RouterError).code).toBe('upstream_timeout');
    signal.clientClosed();
    expect(calls).toEqual([signal.reason]);
    expect(signal.remainingMs()).toBe(0);
  });

  it('counts each abort once, by its reason, when given the metrics', () => {
    const counted: string[] = [];
    const metrics = {
      upstreamAbortsTotal: { inc: (labels: { reason: string }) => counted.push(labels.reason) },
    };
    const leaving = createRequestSignal({ ...deps, metrics }, 1000);
    leaving.clientClosed();
    leaving.clientClosed();
    const late = createRequestSignal({ ...deps, metrics }, 1000);
    vi.advanceTimersByTime(1000);
    late.clientClosed();
    const disposed = createRequestSignal({ ...deps, metrics }, 1000);
    disposed.dispose();
    vi.advanceTimersByTime(2000);
    expect(counted).toEqual(['client_disconnect', 'deadline']);
    expect(disposed.aborted).toBe(false);
  });

  it('aborts with ClientClosedError when the client leaves; a removed listener is not called', () => {
    const signal = createRequestSignal(deps, 1000);
    const kept = vi.fn();
    const removed = vi.fn();
    signal.addEventListener('abort', kept);
    signal.addEventListener('abort', removed);
    signal.removeEventListener('abort', removed);
    signal.clientClosed();
    expect(signal.reason).toBeInstanceOf(ClientClosedError);
    expect(kept).toHaveBeenCalledTimes(1);
    expect(removed).not.toHaveBeenCalled();
    vi.advanceTimersByTime(2000);
    expect(kept).toHaveBeenCalledTimes(1);
    expect(signal.reason).toBeInstanceOf(ClientClosedError);
  });

  it('no longer fires at the deadline once disposed', () => {
    const signal = createRequestSignal(deps, 1000);
    signal.dispose();
    vi.advanceTimersByTime(2000);
    expect(signal.aborted).toBe(false);
  });

  it('runs every listener even when one throws; the error surfaces on the next tick', () => {
    const deferred: (() => void)[] = [];
    const nextTick = vi.spyOn(process, 'nextTick').mockImplementation((callback) => {
      deferred.push(callback as () => void);
    });
    const signal = createRequestSignal(deps, 1000);
    const after = vi.fn();
    signal.addEventListener('abort', () => {
      throw new Error('listener bug');
    });
    signal.addEventListener('abort', after);
    signal.clientClosed();
    expect(after).toHaveBeenCalledTimes(1);
    nextTick.mockRestore();
    expect(deferred).toHaveLength(1);
    expect(() => deferred[0]?.()).toThrow('listener bug');
  });

  it('gives a real AbortSignal on demand that follows it, aborted already or later', () => {
    const later = createRequestSignal(deps, 1000);
    const abortSignal = toAbortSignal(later);
    expect(abortSignal.aborted).toBe(false);
    later.clientClosed();
    expect(abortSignal.aborted).toBe(true);
    expect(abortSignal.reason).toBe(later.reason);
    const already = createRequestSignal(deps, 1000);
    already.clientClosed();
    expect(toAbortSignal(already).reason).toBe(already.reason);
    const native = new AbortController().signal;
    expect(toAbortSignal(native)).toBe(native);
  });
});
