import type { TokenPrice } from './price-table.js';

const TOKENS_PER_MILLION = 1_000_000;
const BIG_MILLION = 1_000_000n;

/** What bounds the cost of a request before it runs. */
export interface MaxCostInput {
  /** Micro-units per million tokens (from RuntimePolicy.priceFor). */
  readonly price: TokenPrice;
  /** Input tokens, e.g. from estimateInputTokens (an upper estimate). */
  readonly inputTokens: number;
  /** The request's max_output_tokens, or settings.defaultMaxOutputTokens when it sets none. */
  readonly maxOutputTokens: number;
}

/**
 * Cost in whole micro-units of a request of `inputTokens` and `maxOutputTokens` at `price`:
 * ceil((inputTokens × inputMicrosPerMillion + maxOutputTokens × outputMicrosPerMillion) / 10^6). Rounded up
 * once, on the exact sum, so it is never below the real cost of that usage and at most 1 micro above it —
 * a reservation never under-reserves. The same function settles the real usage (pass the real counts).
 * Integer math: plain numbers while the sum is a safe integer, BigInt beyond.
 *
 * @throws RangeError when an input is not a non-negative safe integer, or the cost exceeds 2^53 - 1 micros.
 */
export function maxCostMicros(input: MaxCostInput): number {
  const { price, inputTokens, maxOutputTokens } = input;
  requireCount(inputTokens, 'inputTokens');
  requireCount(maxOutputTokens, 'maxOutputTokens');
  requireCount(price.inputMicrosPerMillion, 'price.inputMicrosPerMillion');
  requireCount(price.outputMicrosPerMillion, 'price.outputMicrosPerMillion');
  const total = inputTokens * price.inputMicrosPerMillion + maxOutputTokens * price.outputMicrosPerMillion;
  if (Number.isSafeInteger(total)) {
    // `total` is exact, so are the remainder and the division of what is left by 10^6.
    const remainder = total % TOKENS_PER_MILLION;
    return (total - remainder) / TOKENS_PER_MILLION + (remainder > 0 ? 1 : 0);
  }
  const exact =
    BigInt(inputTokens) * BigInt(price.inputMicrosPerMillion) +
    BigInt(maxOutputTokens) * BigInt(price.outputMicrosPerMillion);
  const micros = (exact + BIG_MILLION - 1n) / BIG_MILLION;
  if (micros > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError('cost exceeds 2^53 - 1 micros');
  return Number(micros);
}

function requireCount(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative safe integer, got ${String(value)}`);
  }
}
