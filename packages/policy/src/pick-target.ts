import type { RuntimeRoute, RuntimeTarget } from './runtime-policy.js';

/**
 * Weighted random choice among the targets of `route` that are eligible — weight > 0, backend enabled and,
 * when given, `isAvailable(target)` (health, targets already tried by a failover...) — restricted to the
 * lowest priority number that has an eligible target. Each eligible target of that group is chosen with
 * probability weight / (sum of the group's weights).
 *
 * @param random returns a number in [0, 1) (e.g. `Math.random`); injected so tests are deterministic.
 * @param isAvailable optional extra filter; must be cheap and give the same answer for a target within one
 *   call (it is consulted twice per target).
 * @returns the chosen target, or undefined when no target is eligible.
 */
export function pickTarget(
  route: RuntimeRoute,
  random: () => number,
  isAvailable?: (target: RuntimeTarget) => boolean,
): RuntimeTarget | undefined {
  const isEligible = (target: RuntimeTarget): boolean =>
    target.weight > 0 && target.backend.enabled && (isAvailable === undefined || isAvailable(target));

  // Two passes over a handful of targets, without allocating: this runs on every request.
  let bestPriority = Number.POSITIVE_INFINITY;
  let totalWeight = 0;
  for (const target of route.targets) {
    if (target.priority > bestPriority || !isEligible(target)) continue;
    if (target.priority < bestPriority) {
      bestPriority = target.priority;
      totalWeight = 0;
    }
    totalWeight += target.weight;
  }
  if (totalWeight === 0) return undefined;

  let remaining = random() * totalWeight;
  let last: RuntimeTarget | undefined;
  for (const target of route.targets) {
    if (target.priority !== bestPriority || !isEligible(target)) continue;
    last = target;
    remaining -= target.weight;
    if (remaining < 0) return target;
  }
  // Only reachable through floating-point rounding when random() is just below 1.
  return last;
}
