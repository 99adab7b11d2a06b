import { MAX_BUCKET_UNITS, MAX_MICROS } from '@api-router/limits';
import {
  estimateInputTokens,
  maxCostMicros,
  type EstimableMessage,
  type RuntimePolicy,
  type RuntimeRoute,
  type TokenPrice,
} from '@api-router/policy';
import { isTokenCount, type TokenCounts } from '../upstream/adapters/provider-adapter.js';

/** What a request asks for, as far as its cost goes. */
export interface CostRequest {
  /** Public model name (the route's model). */
  readonly model: string;
  readonly messages: readonly EstimableMessage[];
  /** Request fields besides the messages that the backend renders into the prompt (OpenAI: tools…). */
  readonly promptFields?: readonly unknown[];
  /**
   * Output tokens the request allows itself per choice (max_tokens), or undefined when it sets no limit —
   * then the policy's `defaultMaxOutputTokens` is assumed and imposed upstream (see outputCap).
   */
  readonly maxOutputTokens: number | undefined;
  /** Choices generated (OpenAI `n`), each up to the output limit; default 1. */
  readonly choices?: number;
}

/** The maximum a request may consume, reserved at admission. */
export interface ReservationCosts {
  /** Upper estimate of the input tokens (estimateInputTokens). */
  readonly inputTokens: number;
  /** The request's own output limit (or the policy default when it set none) × its choices. */
  readonly maxOutputTokens: number;
  /** inputTokens + maxOutputTokens: charged to `tokens` checks. */
  readonly tokens: number;
  /** Micro-units reserved in `budget` checks (0 when the model has no price). */
  readonly costMicros: number;
  /**
   * Output tokens per choice to impose upstream because the request set no limit and its reservation
   * assumed the policy default; undefined when the request set its own limit (the backend honours it).
   */
  readonly outputCap: number | undefined;
}

/**
 * The price a reservation must use when the backend is not chosen yet: for each of input and output, the
 * highest price among the route's targets (a backend-specific price, else the model-wide one), so that the
 * reservation is never below the real cost whichever target serves the request. Undefined when no target
 * has a price (the cost is then 0; the config refuses budgets on unpriced models).
 */
export function highestRoutePrice(
  policy: Pick<RuntimePolicy, 'priceFor'>,
  model: string,
  route: RuntimeRoute,
): TokenPrice | undefined {
  let input = -1;
  let output = -1;
  const consider = (price: TokenPrice | undefined): void => {
    if (price === undefined) return;
    input = Math.max(input, price.inputMicrosPerMillion);
    output = Math.max(output, price.outputMicrosPerMillion);
  };
  consider(policy.priceFor(model));
  for (const target of route.targets) consider(policy.priceFor(model, target.backend.id));
  return input < 0 ? undefined : { inputMicrosPerMillion: input, outputMicrosPerMillion: output };
}

/**
 * The reservation of a request: input estimate + maximum output tokens, priced at the route's highest
 * price. Pure. Throws RangeError only for token counts beyond 2^53 (impossible for a validated body).
 */
export function reservationCosts(
  policy: Pick<RuntimePolicy, 'priceFor' | 'settings'>,
  route: RuntimeRoute,
  request: CostRequest,
): ReservationCosts {
  const inputTokens = estimateInputTokens(request.messages, request.promptFields);
  const perChoice = request.maxOutputTokens ?? policy.settings.defaultMaxOutputTokens;
  const maxOutputTokens = Math.min(perChoice * (request.choices ?? 1), MAX_BUCKET_UNITS);
  const price = highestRoutePrice(policy, request.model, route);
  return {
    inputTokens,
    maxOutputTokens,
    tokens: Math.min(inputTokens + maxOutputTokens, MAX_BUCKET_UNITS),
    costMicros: price === undefined ? 0 : cappedCost(price, inputTokens, maxOutputTokens),
    outputCap: request.maxOutputTokens === undefined ? perChoice : undefined,
  };
}

/**
 * maxCostMicros, capped at the stores' largest amount: a client may ask for absurd token counts (JSON
 * allows any integer), and the cap is itself more than any budget can hold, so such a request is denied
 * (402) rather than failing with a RangeError. Token counts are capped the same way (MAX_BUCKET_UNITS).
 */
function cappedCost(price: TokenPrice, inputTokens: number, outputTokens: number): number {
  try {
    return Math.min(maxCostMicros({ price, inputTokens, maxOutputTokens: outputTokens }), MAX_MICROS);
  } catch (error: unknown) {
    // maxCostMicros only throws RangeError, for a cost beyond 2^53 micros: far above the cap.
    if (error instanceof RangeError) return MAX_MICROS;
    throw error;
  }
}

/** What a settlement charges: tokens and micro-units. */
export interface SettlementUsage {
  readonly tokens: number;
  readonly costMicros: number;
  /** True when the backend reported no usage and the reservation was charged instead. */
  readonly estimated: boolean;
}

/**
 * The real usage of a served request: the backend's token counts priced at the serving backend's price.
 * When the backend reported no usage (a stream cut before its usage chunk, a backend that never sends
 * one) the reservation itself is charged — the upper bound, so money is never under-counted. So are counts
 * no store can charge (negative or fractional): the settlement would fail and hold the reservation, slot
 * included, until it expires.
 */
export function settlementUsage(
  policy: Pick<RuntimePolicy, 'priceFor'>,
  model: string,
  backendId: string,
  usage: TokenCounts | undefined,
  reserved: { readonly tokens: number; readonly costMicros: number },
): SettlementUsage {
  if (usage === undefined || !isTokenCount(usage.inputTokens) || !isTokenCount(usage.outputTokens)) {
    return { ...reserved, estimated: true };
  }
  const price = policy.priceFor(model, backendId);
  const inputTokens = Math.min(usage.inputTokens, MAX_BUCKET_UNITS);
  const outputTokens = Math.min(usage.outputTokens, MAX_BUCKET_UNITS);
  return {
    tokens: Math.min(inputTokens + outputTokens, MAX_BUCKET_UNITS),
    costMicros: price === undefined ? 0 : cappedCost(price, inputTokens, outputTokens),
    estimated: false,
  };
}
