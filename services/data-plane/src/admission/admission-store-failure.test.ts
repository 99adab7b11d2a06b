import { afterEach, describe, expect, it, vi } from 'vitest';
import { LIMIT_KEYS } from './limits-policy.test-support.js';
import { T0, input, rejection, setup, unreachableStore } from './admission-controller.test-support.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('store failure', () => {
  it('fails rate limits open to the local share, visibly, and recovers by itself', async () => {
    vi.useFakeTimers({ now: T0 });
    const store = unreachableStore();
    const { controller, health, probe, metricsText } = setup({ store });
    // Burst 4, local share 0.5 → 2 admitted on this replica alone.
    await controller.admit(input(LIMIT_KEYS.open));
    expect(health.detail()).toMatchObject({ degraded: true });
    expect(await metricsText()).toContain('router_limits_degraded 1');
    await controller.admit(input(LIMIT_KEYS.open));
    const error = await rejection(controller.admit(input(LIMIT_KEYS.open)));
    expect(error.status).toBe(429);
    // Degraded: the shared store is not asked again for each request.
    expect(store.calls).toBe(1);
    probe.up = true;
    await vi.advanceTimersByTimeAsync(1000);
    expect(health.degraded).toBe(false);
    expect(await metricsText()).toContain('router_limits_degraded 0');
    await rejection(controller.admit(input(LIMIT_KEYS.open)));
    expect(store.calls).toBe(2);
    await controller.close();
  });

  it('answers 503 (never 402 or 429) for limits that fail closed and for budgets', async () => {
    const { controller, audits, metricsText } = setup({ store: unreachableStore() });
    for (const key of [LIMIT_KEYS.closed, LIMIT_KEYS.budget, LIMIT_KEYS.tenantBudget]) {
      const error = await rejection(controller.admit(input(key)));
      expect(error.status).toBe(503);
      expect(error.code).toBe('dependency_unavailable');
    }
    expect(audits).toEqual([]);
    expect(await metricsText()).toContain(
      'router_limit_decisions_total{kind="store",outcome="fail_closed"} 3',
    );
    await controller.close();
  });
});
