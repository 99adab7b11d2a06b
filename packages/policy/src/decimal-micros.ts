/** Micro-units per unit: amounts are integers of 10^-6 (1 USD = 1,000,000 micros). */
export const MICROS_PER_UNIT = 1_000_000;

const DECIMAL_PATTERN = /^(\d+)(?:\.(\d*))?$/;
const FRACTION_DIGITS = 6;

/** A decimal converted to micros, or why it cannot be. */
export type DecimalMicros = { ok: true; micros: number } | { ok: false; problem: string };

/**
 * Converts a non-negative decimal amount to integer micro-units exactly, by parsing its decimal text: "5.00"
 * is 5,000,000 and "0.000001" is 1, never off by a float rounding. A number (YAML reads `5.00` as one) is
 * converted through its shortest round-trip text, which for any decimal written with at most 15 significant
 * digits is the text as written. Digits beyond the sixth decimal place are refused unless they are zeros.
 *
 * @param maxMicros largest accepted result (an integer at most 2^53 - 1).
 */
export function decimalToMicros(value: string | number, maxMicros: number): DecimalMicros {
  let text: string;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return { ok: false, problem: 'must be a finite number' };
    if (value < 0) return { ok: false, problem: 'must not be negative' };
    text = String(value);
    // String() switches to exponent notation below 1e-6 and from 1e21: either way not a micro amount.
    if (text.includes('e-')) return { ok: false, problem: tooPrecise() };
    if (text.includes('e')) return { ok: false, problem: tooLarge(maxMicros) };
  } else {
    text = value;
  }
  const match = DECIMAL_PATTERN.exec(text);
  if (match === null) {
    return { ok: false, problem: 'must be a non-negative decimal number, e.g. "5.00" or "0.25"' };
  }
  const whole = match[1] ?? '0';
  const fraction = (match[2] ?? '').replace(/0+$/, '');
  if (fraction.length > FRACTION_DIGITS) return { ok: false, problem: tooPrecise() };
  // BigInt keeps the conversion exact whatever the number of digits; the bound keeps the result a safe integer.
  const micros = BigInt(whole) * BigInt(MICROS_PER_UNIT) + BigInt(fraction.padEnd(FRACTION_DIGITS, '0'));
  if (micros > BigInt(maxMicros)) return { ok: false, problem: tooLarge(maxMicros) };
  return { ok: true, micros: Number(micros) };
}

/** Formats micros as a decimal text without trailing zeros ("5", "0.25"), for messages. */
export function formatMicros(micros: number): string {
  const whole = Math.floor(micros / MICROS_PER_UNIT);
  const fraction = String(micros % MICROS_PER_UNIT)
    .padStart(FRACTION_DIGITS, '0')
    .replace(/0+$/, '');
  return fraction === '' ? String(whole) : `${whole}.${fraction}`;
}

function tooPrecise(): string {
  return `has more than ${FRACTION_DIGITS} decimal places (the smallest amount is 0.000001)`;
}

function tooLarge(maxMicros: number): string {
  return `must be at most ${formatMicros(maxMicros)}`;
}
