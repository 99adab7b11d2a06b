import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MS_PER_DAY, civilFromDays, daysFromCivil, periodEndMs, periodStartMs } from './budget-period.js';

// 1970 .. 2400: covers the 2000 (leap) and 2100 / 2200 / 2300 (non-leap) century rules.
const instantArbitrary = fc.integer({ min: 0, max: Date.UTC(2400, 0, 1) - 1 });

describe('civil calendar conversions', () => {
  it('agree with Date for every day in range', () => {
    fc.assert(
      fc.property(instantArbitrary, (nowMs) => {
        const date = new Date(nowMs);
        const days = Math.floor(nowMs / MS_PER_DAY);
        expect(civilFromDays(days)).toEqual({
          year: date.getUTCFullYear(),
          month: date.getUTCMonth() + 1,
          day: date.getUTCDate(),
        });
        expect(daysFromCivil(date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate())).toBe(days);
      }),
    );
  });
});

describe('periodStartMs / periodEndMs', () => {
  it('day: UTC midnight to the next', () => {
    const nowMs = Date.UTC(2024, 1, 29, 23, 59, 59, 999);
    expect(periodStartMs('day', nowMs)).toBe(Date.UTC(2024, 1, 29));
    expect(periodEndMs('day', Date.UTC(2024, 1, 29))).toBe(Date.UTC(2024, 2, 1));
  });

  it('month: first of the month to the first of the next, across leap Februaries and December', () => {
    expect(periodStartMs('month', Date.UTC(2024, 1, 29, 12))).toBe(Date.UTC(2024, 1, 1));
    expect(periodEndMs('month', Date.UTC(2024, 1, 1))).toBe(Date.UTC(2024, 2, 1));
    expect(periodStartMs('month', Date.UTC(2023, 11, 31, 23))).toBe(Date.UTC(2023, 11, 1));
    expect(periodEndMs('month', Date.UTC(2023, 11, 1))).toBe(Date.UTC(2024, 0, 1));
  });

  it('total: one period that never ends', () => {
    expect(periodStartMs('total', Date.UTC(2030, 5, 1))).toBe(0);
    expect(periodEndMs('total', 0)).toBeNull();
  });

  it('every instant lies in [start, end) of its day and month, and both match Date', () => {
    fc.assert(
      fc.property(instantArbitrary, (nowMs) => {
        const date = new Date(nowMs);
        const monthStart = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
        expect(periodStartMs('month', nowMs)).toBe(monthStart);
        expect(periodEndMs('month', monthStart)).toBe(
          Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1),
        );
        const dayStart = periodStartMs('day', nowMs);
        expect(dayStart).toBeLessThanOrEqual(nowMs);
        expect(periodEndMs('day', dayStart)).toBeGreaterThan(nowMs);
      }),
    );
  });
});
