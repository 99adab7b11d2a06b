import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createInferenceMetrics } from './inference-metrics.js';

describe('inference metrics', () => {
  it('shows counted requests and attempts at every scrape, each counted once', async () => {
    const registry = new Registry();
    const metrics = createInferenceMetrics(registry);
    metrics.countRequest('chat', '2xx');
    metrics.countRequest('chat', '2xx');
    metrics.countRequest('none', '4xx');
    metrics.countAttempt('backend-a', 'response');
    const first = await registry.metrics();
    expect(first).toContain('router_requests_total{route="chat",status_class="2xx"} 2');
    expect(first).toContain('router_requests_total{route="none",status_class="4xx"} 1');
    expect(first).toContain('router_upstream_attempts_total{backend="backend-a",outcome="response"} 1');

    metrics.countRequest('chat', '2xx');
    metrics.countAttempt('backend-a', 'connect_failed');
    const second = await registry.metrics();
    expect(second).toContain('router_requests_total{route="chat",status_class="2xx"} 3');
    expect(second).toContain('router_requests_total{route="none",status_class="4xx"} 1');
    expect(second).toContain('router_upstream_attempts_total{backend="backend-a",outcome="response"} 1');
    expect(second).toContain(
      'router_upstream_attempts_total{backend="backend-a",outcome="connect_failed"} 1',
    );
  });
});
