import { create } from '@bufbuild/protobuf';
import { BackendSchema, RouteSchema } from '@api-router/contracts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pickTarget } from './pick-target.js';
import type { RuntimeRoute, RuntimeTarget } from './runtime-policy.js';

// Generous: the machine running the suite is shared and these properties compile dozens of snapshots.
const PROPERTY_TIMEOUT_MS = 60_000;

interface TargetSpec {
  weight: number;
  priority: number;
  enabled: boolean;
}

function makeRoute(specs: readonly TargetSpec[]): RuntimeRoute {
  const targets: RuntimeTarget[] = specs.map((spec, index) => ({
    backend: create(BackendSchema, { id: `backend-${index}`, enabled: spec.enabled }),
    weight: spec.weight,
    priority: spec.priority,
    upstreamModel: 'model',
  }));
  return { route: create(RouteSchema, { id: 'route', model: 'model' }), targets };
}

const isEligible = (target: RuntimeTarget): boolean => target.weight > 0 && target.backend.enabled;

const targetSpec = fc.record({
  weight: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1000 })),
  priority: fc.integer({ min: 0, max: 3 }),
  enabled: fc.boolean(),
});
const unitInterval = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

describe('pickTarget', () => {
  it('returns an eligible target of the lowest eligible priority, or undefined when none is eligible', () => {
    fc.assert(
      fc.property(fc.array(targetSpec, { maxLength: 8 }), unitInterval, (specs, random) => {
        const route = makeRoute(specs);
        const eligible = route.targets.filter(isEligible);
        const picked = pickTarget(route, () => random);
        if (eligible.length === 0) {
          expect(picked).toBeUndefined();
          return;
        }
        expect(picked).toBeDefined();
        expect(isEligible(picked!)).toBe(true);
        expect(picked!.priority).toBe(Math.min(...eligible.map((target) => target.priority)));
      }),
    );
  });

  it('never returns a target that isAvailable rejects', () => {
    fc.assert(
      fc.property(
        fc.array(targetSpec, { minLength: 1, maxLength: 8 }),
        fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
        unitInterval,
        (specs, available, random) => {
          const route = makeRoute(specs);
          const isAvailable = (target: RuntimeTarget) => available[route.targets.indexOf(target)] === true;
          const picked = pickTarget(route, () => random, isAvailable);
          const candidates = route.targets.filter((target) => isEligible(target) && isAvailable(target));
          if (candidates.length === 0) expect(picked).toBeUndefined();
          else expect(isAvailable(picked!)).toBe(true);
        },
      ),
    );
  });

  it(
    'splits traffic in proportion to the weights of the chosen group',
    () => {
      fc.assert(
        fc.property(fc.array(targetSpec, { minLength: 1, maxLength: 6 }), (specs) => {
          const route = makeRoute(specs);
          const eligible = route.targets.filter(isEligible);
          fc.pre(eligible.length > 0);
          const bestPriority = Math.min(...eligible.map((target) => target.priority));
          const group = eligible.filter((target) => target.priority === bestPriority);
          const totalWeight = group.reduce((sum, target) => sum + target.weight, 0);

          // A stratified, deterministic sequence of randoms: (i + 0.5) / N covers [0, 1) evenly, so each
          // target's count must be within one of its exact share.
          const samples = 10_000;
          const counts = new Map<RuntimeTarget, number>();
          for (let index = 0; index < samples; index += 1) {
            const picked = pickTarget(route, () => (index + 0.5) / samples)!;
            counts.set(picked, (counts.get(picked) ?? 0) + 1);
          }
          for (const target of group) {
            const expected = (samples * target.weight) / totalWeight;
            expect(Math.abs((counts.get(target) ?? 0) - expected)).toBeLessThanOrEqual(1);
          }
          expect([...counts.keys()].every((target) => group.includes(target))).toBe(true);
        }),
        { numRuns: 50 },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it('handles a random just below 1 and the boundary 0', () => {
    const route = makeRoute([
      { weight: 70, priority: 0, enabled: true },
      { weight: 30, priority: 0, enabled: true },
      { weight: 0, priority: 0, enabled: true },
    ]);
    expect(pickTarget(route, () => 0)?.backend.id).toBe('backend-0');
    expect(pickTarget(route, () => 0.7)?.backend.id).toBe('backend-1');
    expect(pickTarget(route, () => 1 - Number.EPSILON)?.backend.id).toBe('backend-1');
  });

  it('falls back to the next priority when the preferred group is unavailable', () => {
    const route = makeRoute([
      { weight: 1, priority: 0, enabled: false },
      { weight: 0, priority: 0, enabled: true },
      { weight: 5, priority: 2, enabled: true },
      { weight: 5, priority: 1, enabled: true },
    ]);
    expect(pickTarget(route, () => 0.5)?.backend.id).toBe('backend-3');
    const notThree = (target: RuntimeTarget) => target.backend.id !== 'backend-3';
    expect(pickTarget(route, () => 0.5, notThree)?.backend.id).toBe('backend-2');
  });
});
