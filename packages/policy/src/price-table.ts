import type { Backend, ModelPrice } from '@api-router/contracts';
import { MAX_PRICE_MICROS_PER_MILLION } from './limit-bounds.js';

/** Price of a model's tokens, in micro-units (USD) per million tokens. */
export interface TokenPrice {
  readonly inputMicrosPerMillion: number;
  readonly outputMicrosPerMillion: number;
}

/** Looks up the price of a request; see {@link createPriceTable}. */
export type PriceLookup = (model: string, backendId?: string) => TokenPrice | undefined;

/**
 * Indexes a snapshot's prices for the hot path (two Map lookups, no allocation). `lookup(model,
 * backendId)` returns the (model, backend) price when there is one, else the model-wide price (backend_id
 * empty), else undefined; without `backendId`, only the model-wide price.
 *
 * @returns a problem description instead when an entry is invalid: empty model, unknown backend, a
 *   (model, backend) pair listed twice, a price above {@link MAX_PRICE_MICROS_PER_MILLION}.
 */
export function createPriceTable(
  prices: readonly ModelPrice[],
  backendsById: ReadonlyMap<string, Backend>,
): PriceLookup | string {
  const byModel = new Map<string, ModelPrices>();
  for (const price of prices) {
    const label = price.backendId === '' ? price.model : `${price.model} on ${price.backendId}`;
    if (price.model === '') return 'price with an empty model';
    if (price.backendId !== '' && !backendsById.has(price.backendId)) {
      return `price of ${label}: unknown backend "${price.backendId}"`;
    }
    const max = BigInt(MAX_PRICE_MICROS_PER_MILLION);
    if (price.inputMicrosPerMillionTokens > max || price.outputMicrosPerMillionTokens > max) {
      return `price of ${label}: above ${MAX_PRICE_MICROS_PER_MILLION} micros per million tokens`;
    }
    const entry: TokenPrice = {
      inputMicrosPerMillion: Number(price.inputMicrosPerMillionTokens),
      outputMicrosPerMillion: Number(price.outputMicrosPerMillionTokens),
    };
    let model = byModel.get(price.model);
    if (model === undefined) {
      model = { anyBackend: undefined, byBackend: new Map() };
      byModel.set(price.model, model);
    }
    if (price.backendId === '') {
      if (model.anyBackend !== undefined) return `duplicate price of ${label}`;
      model.anyBackend = entry;
    } else {
      if (model.byBackend.has(price.backendId)) return `duplicate price of ${label}`;
      model.byBackend.set(price.backendId, entry);
    }
  }
  return (model, backendId) => {
    const found = byModel.get(model);
    if (found === undefined) return undefined;
    return (backendId === undefined ? undefined : found.byBackend.get(backendId)) ?? found.anyBackend;
  };
}

interface ModelPrices {
  anyBackend: TokenPrice | undefined;
  readonly byBackend: Map<string, TokenPrice>;
}
