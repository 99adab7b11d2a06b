import { describe, expect, it } from 'vitest';
import type { CheckResult } from '@api-router/limits';
import { formatOpenAIDuration, rateLimitHeaders } from './rate-limit-headers.js';

const owners = { keyCheckId: 'key:rk_a', tenantCheckId: 'tenant:acme' };
const check = (overrides: Partial<CheckResult>): CheckResult => ({
  kind: 'requests',
  id: 'key:rk_a',
  allowed: true,
  limit: 60,
  remaining: 9,
  resetAtMs: 1_000 + 51_000,
  retryAfterMs: 0,
  ...overrides,
});

describe('formatOpenAIDuration', () => {
  it.each([
    [0, '0s'],
    [0.2, '1ms'],
    [250, '250ms'],
    [999, '999ms'],
    [1000, '1s'],
    [1500, '1.5s'],
    [1234, '1.234s'],
    [59_999, '59.999s'],
    [60_000, '1m0s'],
    [360_000, '6m0s'],
    [361_500, '6m1.5s'],
    [3_600_000, '1h0m0s'],
    [86_400_000 + 61_000, '24h1m1s'],
    [-5, '0s'],
  ])('%d ms → %s', (ms, text) => {
    expect(formatOpenAIDuration(ms)).toBe(text);
  });
});

describe('rateLimitHeaders', () => {
  it('reports the key’s request and token checks with the time to reset', () => {
    const headers = rateLimitHeaders(
      [
        check({}),
        check({ kind: 'tokens', limit: 1000, remaining: 880, resetAtMs: 1_000 + 7_200 }),
        check({ kind: 'tokens', id: 'tenant:acme', limit: 5, remaining: 0 }),
      ],
      1_000,
      owners,
    );
    expect(headers).toEqual({
      'x-ratelimit-limit-requests': '60',
      'x-ratelimit-remaining-requests': '9',
      'x-ratelimit-reset-requests': '51s',
      'x-ratelimit-limit-tokens': '1000',
      'x-ratelimit-remaining-tokens': '880',
      'x-ratelimit-reset-tokens': '7.2s',
    });
  });

  it('falls back to the tenant’s check when the key has none of that kind', () => {
    const headers = rateLimitHeaders(
      [check({ id: 'tenant:acme', limit: 600, remaining: 0, resetAtMs: 1_000 + 360_000 })],
      1_000,
      owners,
    );
    expect(headers).toEqual({
      'x-ratelimit-limit-requests': '600',
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': '6m0s',
    });
  });

  it('sends nothing without rate checks (budgets and concurrency have no OpenAI header)', () => {
    expect(
      rateLimitHeaders(
        [check({ kind: 'budget', id: 'key:rk_a:daily' }), check({ kind: 'concurrency' })],
        1_000,
        owners,
      ),
    ).toEqual({});
  });
});
