import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { reservationCosts, settlementUsage } from './admission-costs.js';
import { buildLimitsPolicy } from './limits-policy.test-support.js';

// The reservation is an upper bound of what settlement can charge, for any number of choices (OpenAI `n`)
// and whether the output limit is the request's or the one the policy imposes: each of the n choices may
// use the whole per-choice limit, and any target of the route may serve the request.
const policy = buildLimitsPolicy();

describe('the reservation of a request with several choices', () => {
  it('covers the largest usage any target can report: n choices at the per-choice limit', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('demo-chat', 'multi-chat'),
        fc.string({ maxLength: 200 }),
        fc.option(fc.integer({ min: 1, max: 200_000 }), { nil: undefined }),
        fc.integer({ min: 1, max: 128 }),
        (model, content, maxOutputTokens, choices) => {
          const route = policy.routesByModel.get(model)!;
          const costs = reservationCosts(policy, route, {
            model,
            messages: [{ content }],
            maxOutputTokens,
            choices,
          });
          // What goes upstream per choice: the request's own limit, else the cap the router imposes.
          const perChoice = maxOutputTokens ?? costs.outputCap;
          expect(perChoice).toBeDefined();
          expect(costs.maxOutputTokens).toBe(perChoice! * choices);
          const worst = { inputTokens: costs.inputTokens, outputTokens: perChoice! * choices };
          for (const target of route.targets) {
            const settled = settlementUsage(policy, model, target.backend.id, worst, costs);
            expect(settled.tokens).toBeLessThanOrEqual(costs.tokens);
            expect(settled.costMicros).toBeLessThanOrEqual(costs.costMicros);
          }
        },
      ),
    );
  });
});
