import { describe, expect, it } from 'vitest';
import { MAX_BUCKET_UNITS, MAX_MICROS } from '@api-router/limits';
import { estimateInputTokens } from '@api-router/policy';
import { highestRoutePrice, reservationCosts, settlementUsage } from './admission-costs.js';
import {
  DEFAULT_MAX_OUTPUT_TOKENS,
  DEMO_PRICE,
  MULTI_PRICE_B,
  buildLimitsPolicy,
} from './limits-policy.test-support.js';

const policy = buildLimitsPolicy();
const route = (model: string) => {
  const found = policy.routesByModel.get(model);
  if (found === undefined) throw new Error(`no route ${model}`);
  return found;
};
const messages = [{ role: 'user', content: 'How much will this cost?' }];

describe('reservationCosts', () => {
  it('reserves the input estimate plus the request’s max output tokens at the route’s price', () => {
    const inputTokens = estimateInputTokens(messages);
    const costs = reservationCosts(policy, route('demo-chat'), {
      model: 'demo-chat',
      messages,
      maxOutputTokens: 10,
    });
    expect(costs).toEqual({
      inputTokens,
      maxOutputTokens: 10,
      tokens: inputTokens + 10,
      // 1 micro per input token, 2 per output token.
      costMicros: inputTokens + 20,
      outputCap: undefined,
    });
  });

  it('assumes and caps the policy default when the request sets no output limit', () => {
    const costs = reservationCosts(policy, route('demo-chat'), {
      model: 'demo-chat',
      messages,
      maxOutputTokens: undefined,
    });
    expect(costs.maxOutputTokens).toBe(DEFAULT_MAX_OUTPUT_TOKENS);
    expect(costs.outputCap).toBe(DEFAULT_MAX_OUTPUT_TOKENS);
    expect(costs.costMicros).toBe(costs.inputTokens + 2 * DEFAULT_MAX_OUTPUT_TOKENS);
  });

  it('uses the highest price among several targets, so the reservation covers whichever serves', () => {
    expect(highestRoutePrice(policy, 'multi-chat', route('multi-chat'))).toEqual(MULTI_PRICE_B);
    const costs = reservationCosts(policy, route('multi-chat'), {
      model: 'multi-chat',
      messages,
      maxOutputTokens: 10,
    });
    expect(costs.costMicros).toBe(3 * costs.inputTokens + 60);
  });

  it('costs nothing for a model without a price', () => {
    const unpriced = { ...policy, priceFor: () => undefined };
    const costs = reservationCosts(unpriced, route('demo-chat'), {
      model: 'demo-chat',
      messages,
      maxOutputTokens: 10,
    });
    expect(costs.costMicros).toBe(0);
    expect(costs.tokens).toBeGreaterThan(10);
  });
});

describe('settlementUsage', () => {
  const reserved = { tokens: 100, costMicros: 500 };

  it('charges the real usage at the serving backend’s price', () => {
    expect(
      settlementUsage(policy, 'multi-chat', 'mock-a', { inputTokens: 7, outputTokens: 3 }, reserved),
    ).toEqual({ tokens: 10, costMicros: 7 * 1 + 3 * 2, estimated: false });
    expect(
      settlementUsage(policy, 'multi-chat', 'mock-b', { inputTokens: 7, outputTokens: 3 }, reserved),
    ).toEqual({ tokens: 10, costMicros: 7 * 3 + 3 * 6, estimated: false });
  });

  it('rounds a fraction of a micro up', () => {
    const cheap = {
      ...policy,
      priceFor: () => ({ inputMicrosPerMillion: 500_000, outputMicrosPerMillion: 0 }),
    };
    expect(
      settlementUsage(cheap, 'demo-chat', 'mock-a', { inputTokens: 3, outputTokens: 0 }, reserved),
    ).toMatchObject({ costMicros: 2 });
  });

  it('charges the reservation when the backend reported no usage', () => {
    expect(settlementUsage(policy, 'demo-chat', 'mock-a', undefined, reserved)).toEqual({
      ...reserved,
      estimated: true,
    });
  });

  it('reserves at least the real cost of the mock backend’s answer', () => {
    const costs = reservationCosts(policy, route('demo-chat'), {
      model: 'demo-chat',
      messages,
      maxOutputTokens: 10,
    });
    // The mock counts ceil(characters / 4) input tokens and at most max_tokens output tokens.
    const real = settlementUsage(
      policy,
      'demo-chat',
      'mock-a',
      { inputTokens: Math.ceil(messages[0]!.content.length / 4), outputTokens: 10 },
      costs,
    );
    expect(real.costMicros).toBeLessThanOrEqual(costs.costMicros);
    expect(real.tokens).toBeLessThanOrEqual(costs.tokens);
  });
});

describe('the demo price', () => {
  it('is one micro per input token and two per output token', () => {
    expect(policy.priceFor('demo-chat', 'mock-a')).toEqual(DEMO_PRICE);
  });
});

describe('several choices', () => {
  it('reserve the output limit once per choice and cap each choice at the default', () => {
    const route = policy.routesByModel.get('demo-chat')!;
    const costs = reservationCosts(policy, route, {
      model: 'demo-chat',
      messages,
      maxOutputTokens: undefined,
      choices: 3,
    });
    expect(costs.maxOutputTokens).toBe(3 * DEFAULT_MAX_OUTPUT_TOKENS);
    expect(costs.outputCap).toBe(DEFAULT_MAX_OUTPUT_TOKENS);
  });
});

describe('absurd token counts', () => {
  it('are capped at what the stores accept instead of failing', () => {
    const route = policy.routesByModel.get('multi-chat')!;
    const dearest = { inputMicrosPerMillion: 1e12, outputMicrosPerMillion: 1e12 };
    const expensive = { ...policy, priceFor: () => dearest };
    const costs = reservationCosts(expensive, route, {
      model: 'multi-chat',
      messages,
      maxOutputTokens: Number.MAX_SAFE_INTEGER,
      choices: 128,
    });
    expect(costs.tokens).toBe(MAX_BUCKET_UNITS);
    expect(costs.costMicros).toBe(MAX_MICROS);
    const settled = settlementUsage(
      expensive,
      'multi-chat',
      'mock-b',
      { inputTokens: Number.MAX_SAFE_INTEGER, outputTokens: Number.MAX_SAFE_INTEGER },
      costs,
    );
    expect(settled).toEqual({ tokens: MAX_BUCKET_UNITS, costMicros: MAX_MICROS, estimated: false });
  });
});
