import { describe, expect, it } from 'vitest';
import type { AdmitDenied } from '@api-router/limits';
import {
  RETRY_AFTER_FALLBACK_SECONDS,
  classifyDenial,
  denialError,
  retryAfterSeconds,
} from './limit-denial.js';

const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);
const denied = (overrides: Partial<AdmitDenied>): AdmitDenied => ({
  allowed: false,
  decidedAtMs: T0,
  deniedBy: { kind: 'requests', id: 'key:rk_a' },
  retryAfterMs: 1500,
  remaining: 0,
  resetAtMs: T0 + 60_000,
  limit: 60,
  checks: [],
  ...overrides,
});

describe('classifyDenial', () => {
  it('maps the first denying check to 402, 429 or the queue', () => {
    expect(classifyDenial(denied({}))).toBe('rate');
    expect(classifyDenial(denied({ deniedBy: { kind: 'tokens', id: 'key:rk_a' } }))).toBe('rate');
    expect(classifyDenial(denied({ deniedBy: { kind: 'budget', id: 'key:rk_a:daily' } }))).toBe('budget');
    expect(classifyDenial(denied({ deniedBy: { kind: 'concurrency', id: 'key:rk_a' } }))).toBe('concurrency');
  });
});

describe('retryAfterSeconds', () => {
  it('rounds the store’s wait up to whole seconds, at least 1', () => {
    expect(retryAfterSeconds(denied({ retryAfterMs: 1500 }))).toBe(2);
    expect(retryAfterSeconds(denied({ retryAfterMs: 1000 }))).toBe(1);
    expect(retryAfterSeconds(denied({ retryAfterMs: 1 }))).toBe(1);
    expect(retryAfterSeconds(denied({ retryAfterMs: 0 }))).toBe(1);
  });

  it('uses the reset time when waiting cannot help on its own, else the fallback', () => {
    expect(retryAfterSeconds(denied({ retryAfterMs: null, resetAtMs: T0 + 42_100 }))).toBe(43);
    expect(retryAfterSeconds(denied({ retryAfterMs: null, resetAtMs: null }))).toBe(
      RETRY_AFTER_FALLBACK_SECONDS,
    );
  });
});

describe('denialError', () => {
  it('answers money with 402 budget_exhausted: which budget, what remains, when it resets', () => {
    const error = denialError(
      denied({
        deniedBy: { kind: 'budget', id: 'key:rk_a:daily' },
        limit: 5_000_000,
        remaining: 1_250,
        resetAtMs: Date.UTC(2030, 0, 2),
        retryAfterMs: null,
      }),
    );
    expect(error.status).toBe(402);
    expect(error.code).toBe('budget_exhausted');
    expect(error.retryAfterSeconds).toBeUndefined();
    expect(error.details).toEqual({
      budget: 'key:rk_a:daily',
      limit_usd: '5',
      remaining_usd: '0.00125',
      limit_micros: 5_000_000,
      remaining_micros: 1_250,
      resets_at: '2030-01-02T00:00:00.000Z',
    });
  });

  it('answers a total budget with resets_at null', () => {
    const error = denialError(
      denied({ deniedBy: { kind: 'budget', id: 'tenant:t:all' }, resetAtMs: null, retryAfterMs: null }),
    );
    expect(error.details?.resets_at).toBeNull();
  });

  it('answers a request that can never pass (a cost above the bucket’s burst) with request_exceeds_limit, not "retry after"', () => {
    const tokens = {
      kind: 'tokens',
      id: 'key:rk_a',
      limit: 600,
      remaining: 10,
      resetAtMs: T0 + 800,
    } as const;
    const error = denialError(
      denied({
        deniedBy: { kind: 'tokens', id: 'key:rk_a' },
        retryAfterMs: null,
        resetAtMs: T0 + 800,
        checks: [{ ...tokens, allowed: false, retryAfterMs: null }],
      }),
    );
    expect(error.code).toBe('request_exceeds_limit');
    expect(error.status).toBe(429);
    expect(error.retryable).toBe(false);
    expect(error.retryAfterSeconds).toBeUndefined();
    expect(error.message).toBe(
      'This request costs more than the limit "key:rk_a" (tokens) can ever grant at once (its burst): ' +
        'retrying will not help; lower its output token limit.',
    );
    expect(error.details).toMatchObject({ limit: 'key:rk_a', limit_kind: 'tokens', limit_value: 600 });
    expect(denialError(denied({ deniedBy: { kind: 'tokens', id: 'key:rk_a' } })).message).toBe(
      'The limit "key:rk_a" (tokens) is exhausted; retry after 2 s.',
    );
  });

  it('answers rates and concurrency with 429 rate_limited and Retry-After', () => {
    for (const kind of ['requests', 'tokens', 'concurrency'] as const) {
      const error = denialError(denied({ deniedBy: { kind, id: 'key:rk_a' }, retryAfterMs: 2500 }));
      expect(error.status).toBe(429);
      expect(error.code).toBe('rate_limited');
      expect(error.retryAfterSeconds).toBe(3);
      expect(error.details).toMatchObject({ limit: 'key:rk_a', limit_kind: kind, remaining: 0 });
    }
  });
});
