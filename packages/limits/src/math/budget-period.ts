/**
 * UTC period boundaries for budgets, in integer arithmetic only (no Date), because the Redis scripts repeat
 * exactly these steps in Lua (see `src/redis/lua-library.ts`). The civil-calendar conversions are Howard
 * Hinnant's `days_from_civil` / `civil_from_days`, valid for every day after 0000-03-01.
 */

export type BudgetPeriod = 'day' | 'month' | 'total';

export const MS_PER_DAY = 86_400_000;

/** Days since 1970-01-01 of a proleptic Gregorian date (`month` 1–12). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const shiftedYear = month <= 2 ? year - 1 : year;
  const era = Math.floor(shiftedYear / 400);
  const yearOfEra = shiftedYear - era * 400;
  const shiftedMonth = month > 2 ? month - 3 : month + 9;
  const dayOfYear = Math.floor((153 * shiftedMonth + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

/** The proleptic Gregorian date of a day count since 1970-01-01. */
export function civilFromDays(days: number): { year: number; month: number; day: number } {
  const shifted = days + 719_468;
  const era = Math.floor(shifted / 146_097);
  const dayOfEra = shifted - era * 146_097;
  const yearOfEra = Math.floor(
    (dayOfEra -
      Math.floor(dayOfEra / 1460) +
      Math.floor(dayOfEra / 36_524) -
      Math.floor(dayOfEra / 146_096)) /
      365,
  );
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const shiftedMonth = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * shiftedMonth + 2) / 5) + 1;
  const month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  return { year, month, day };
}

/** Start (ms since the epoch, UTC) of the period containing `nowMs`; 0 for `total`. */
export function periodStartMs(period: BudgetPeriod, nowMs: number): number {
  if (period === 'total') return 0;
  const days = Math.floor(nowMs / MS_PER_DAY);
  if (period === 'day') return days * MS_PER_DAY;
  const { day } = civilFromDays(days);
  return (days - day + 1) * MS_PER_DAY;
}

/** End (exclusive, ms since the epoch, UTC) of the period starting at `startMs`; `null` for `total`. */
export function periodEndMs(period: BudgetPeriod, startMs: number): number | null {
  if (period === 'total') return null;
  if (period === 'day') return startMs + MS_PER_DAY;
  const { year, month } = civilFromDays(Math.floor(startMs / MS_PER_DAY));
  const nextMonthDays = month === 12 ? daysFromCivil(year + 1, 1, 1) : daysFromCivil(year, month + 1, 1);
  return nextMonthDays * MS_PER_DAY;
}
