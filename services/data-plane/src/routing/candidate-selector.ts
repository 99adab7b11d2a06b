import { pickTarget, type RuntimeRoute, type RuntimeTarget } from '@api-router/policy';

/**
 * Chooses the next backend of a route to try, given the targets already tried for this request; undefined
 * when none is left. The seam where health, failover policy and operator overrides plug in later (as
 * further availability filters); today: weighted random among enabled backends of the lowest priority
 * group that still has a target on a backend not tried yet (pickTarget).
 */
export type CandidateSelector = (
  route: RuntimeRoute,
  tried: ReadonlySet<RuntimeTarget>,
) => RuntimeTarget | undefined;

/** @param random returns a number in [0, 1); injected so tests are deterministic. */
export function createCandidateSelector(random: () => number): CandidateSelector {
  return (route, tried) =>
    tried.size === 0
      ? pickTarget(route, random)
      : pickTarget(route, random, (target) => !onTriedBackend(target, tried));
}

/**
 * A route may list one backend more than once (another upstream model of the same server). A failover
 * follows a connection that could not be made to that backend: its other targets would fail the same way
 * and spend an attempt that another backend could use.
 */
function onTriedBackend(target: RuntimeTarget, tried: ReadonlySet<RuntimeTarget>): boolean {
  for (const triedTarget of tried) {
    if (triedTarget.backend.id === target.backend.id) return true;
  }
  return false;
}
