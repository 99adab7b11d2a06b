import { describe, expect, it } from 'vitest';
import type { ReferenceProblem } from './config-entries.js';
import { DEFAULT_RESERVATION_TTL_MS, RESERVATION_SETTLEMENT_MARGIN_MS } from './limit-bounds.js';
import { checkReservationTtl } from './limit-references.js';

function ttlProblems(router: unknown): ReferenceProblem[] {
  const problems: ReferenceProblem[] = [];
  checkReservationTtl(router, problems);
  return problems;
}

describe('checkReservationTtl', () => {
  it('refuses a TTL equal to the longest deadline: the settlement runs after the deadline', () => {
    const problems = ttlProblems({
      settings: { defaultRequestTimeoutMs: 30_000, reservationTtlMs: 60_000 },
      routes: [{ id: 'slow', requestTimeoutMs: 60_000 }],
    });
    expect(problems).toEqual([
      {
        path: ['settings', 'reservationTtlMs'],
        message: expect.stringContaining(
          `must be at least ${60_000 + RESERVATION_SETTLEMENT_MARGIN_MS} ms: the longest request deadline ` +
            `(60000 ms, a route's requestTimeoutMs) plus a ${RESERVATION_SETTLEMENT_MARGIN_MS} ms margin`,
        ) as string,
      },
    ]);
  });

  it('accepts a TTL of exactly the longest deadline plus the margin, and refuses one less', () => {
    const router = (reservationTtlMs: number) => ({
      settings: { defaultRequestTimeoutMs: 45_000, reservationTtlMs },
    });
    expect(ttlProblems(router(45_000 + RESERVATION_SETTLEMENT_MARGIN_MS))).toEqual([]);
    expect(ttlProblems(router(45_000 + RESERVATION_SETTLEMENT_MARGIN_MS - 1))).toHaveLength(1);
  });

  it('accepts the defaults (120 s TTL, 30 s deadline)', () => {
    expect(ttlProblems({})).toEqual([]);
    expect(DEFAULT_RESERVATION_TTL_MS).toBeGreaterThanOrEqual(30_000 + RESERVATION_SETTLEMENT_MARGIN_MS);
  });
});
