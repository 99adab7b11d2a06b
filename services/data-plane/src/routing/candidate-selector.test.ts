import { describe, expect, it } from 'vitest';
import type { RuntimeTarget } from '@api-router/policy';
import { buildTestPolicy } from '../testing/test-policy.test-support.js';
import { createCandidateSelector } from './candidate-selector.js';

describe('createCandidateSelector', () => {
  it('picks by weight, then the remaining targets, then nothing', () => {
    const policy = buildTestPolicy({
      backendUrls: { 'mock-a': 'http://127.0.0.1:1/v1', 'mock-b': 'http://127.0.0.1:2/v1' },
    });
    const demo = policy.routesByModel.get('demo-chat')!;
    // A route with both backends at equal weight, built from the policy's own targets.
    const route = {
      route: demo.route,
      targets: [demo.targets[0]!, { ...demo.targets[0]!, backend: policy.backendsById.get('mock-b')! }],
    };
    const tried = new Set<RuntimeTarget>();
    const first = createCandidateSelector(() => 0.99)(route, tried);
    expect(first?.backend.id).toBe('mock-b');
    tried.add(first!);
    const second = createCandidateSelector(() => 0.99)(route, tried);
    expect(second?.backend.id).toBe('mock-a');
    tried.add(second!);
    expect(createCandidateSelector(() => 0)(route, tried)).toBeUndefined();
    expect(createCandidateSelector(() => 0)(route, new Set())?.backend.id).toBe('mock-a');
  });

  it('skips the other targets of a backend already tried: a failover goes to another backend', () => {
    const policy = buildTestPolicy({
      backendUrls: { 'mock-a': 'http://127.0.0.1:1/v1', 'mock-b': 'http://127.0.0.1:2/v1' },
    });
    const demo = policy.routesByModel.get('demo-chat')!;
    const onA = demo.targets[0]!;
    // The same backend twice (a second model of the same server as fallback), then another backend.
    const route = {
      route: demo.route,
      targets: [
        onA,
        { ...onA, priority: 1, upstreamModel: 'fallback-model' },
        { ...onA, priority: 2, backend: policy.backendsById.get('mock-b')! },
      ],
    };
    // mock-a could not be connected to: its other target would fail the same way and waste an attempt.
    expect(createCandidateSelector(() => 0)(route, new Set([onA]))?.backend.id).toBe('mock-b');
    expect(createCandidateSelector(() => 0)(route, new Set([onA, route.targets[2]!]))).toBeUndefined();
  });
});
