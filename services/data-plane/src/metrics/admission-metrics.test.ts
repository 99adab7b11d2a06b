import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createAdmissionMetrics } from './admission-metrics.js';

/** The value of `name`{labels} in the registry's exposition (what a scrape reads), 0 when absent. */
async function scraped(registry: Registry, name: string, labels: string): Promise<number> {
  const text = await registry.metrics();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name}{${labels}}`));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('admission metrics', () => {
  it('counts hot-path checks and settlements once each, across scrapes, beside direct increments', async () => {
    const registry = new Registry();
    const metrics = createAdmissionMetrics(registry, () => 0);
    for (let index = 0; index < 5; index += 1) metrics.countCheck('requests', true);
    metrics.countCheck('budget', false);
    metrics.countSettlement('settle', 'settled');
    metrics.countSettlement('settle', 'settled');
    metrics.decisionsTotal.inc({ kind: 'concurrency', outcome: 'queued' });

    const decisions = 'router_limit_decisions_total';
    expect(await scraped(registry, decisions, 'kind="requests",outcome="allowed"')).toBe(5);
    expect(await scraped(registry, decisions, 'kind="budget",outcome="denied"')).toBe(1);
    expect(await scraped(registry, decisions, 'kind="tokens",outcome="allowed"')).toBe(0);
    expect(await scraped(registry, decisions, 'kind="concurrency",outcome="queued"')).toBe(1);
    expect(await scraped(registry, 'router_settlements_total', 'operation="settle",outcome="settled"')).toBe(
      2,
    );

    // A second scrape adds only what came since the first.
    metrics.countCheck('requests', true);
    metrics.countSettlement('release', 'released');
    expect(await scraped(registry, decisions, 'kind="requests",outcome="allowed"')).toBe(6);
    expect(await scraped(registry, decisions, 'kind="budget",outcome="denied"')).toBe(1);
    expect(await scraped(registry, 'router_settlements_total', 'operation="settle",outcome="settled"')).toBe(
      2,
    );
    expect(
      await scraped(registry, 'router_settlements_total', 'operation="release",outcome="released"'),
    ).toBe(1);
    // get() (what tests and the readiness detail read) folds too.
    metrics.countCheck('requests', true);
    const values = (await metrics.decisionsTotal.get()).values;
    expect(
      values.find((value) => value.labels.kind === 'requests' && value.labels.outcome === 'allowed')?.value,
    ).toBe(7);
  });
});
