import type { ReferenceProblem } from './config-entries.js';
import type { ParsedConfig } from './config-schema.js';

/**
 * Budgets need prices: when any tenant or key has a budget, every target of every route must have a price
 * (for the route's model on that backend, or for the model on every backend). Otherwise a request would
 * reserve and spend nothing against its budgets, and money would fail open silently. Problems are located
 * in router.yaml, at the unpriced target.
 */
export function checkPriceCoverage(config: ParsedConfig): ReferenceProblem[] {
  const { router, policies } = config;
  const owners = [...policies.tenants, ...policies.apiKeys];
  if (!owners.some((owner) => (owner.limits?.budgets.length ?? 0) > 0)) return [];
  const priced = new Set(router.prices.map((price) => `${price.model}\u0000${price.backend ?? ''}`));
  const problems: ReferenceProblem[] = [];
  for (const [routeIndex, route] of router.routes.entries()) {
    if (priced.has(`${route.model}\u0000`)) continue;
    for (const [targetIndex, target] of route.targets.entries()) {
      if (priced.has(`${route.model}\u0000${target.backend}`)) continue;
      problems.push({
        path: ['routes', routeIndex, 'targets', targetIndex, 'backend'],
        message:
          `no price for model "${route.model}" on backend "${target.backend}": budgets are configured, so ` +
          `every routed model needs a price (add it to prices)`,
      });
    }
  }
  return problems;
}
