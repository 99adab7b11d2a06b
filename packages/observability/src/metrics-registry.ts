import { Registry, collectDefaultMetrics } from 'prom-client';

/**
 * How often the event-loop delay is sampled (prom-client's `eventLoopMonitoringPrecision`, its default made
 * explicit). The `nodejs_eventloop_lag_{min,mean,p50,p90,p99,max}_seconds` gauges are Node's
 * `monitorEventLoopDelay` histogram, whose samples are whole intervals between two timer ticks: they
 * include this interval, so an idle process reports ~0.010 s. The delay is the value minus this.
 */
export const EVENT_LOOP_SAMPLE_INTERVAL_MS = 10;

export interface MetricsRegistryOptions {
  /** Label added to every series, e.g. { service: "data-plane" }. */
  defaultLabels?: Record<string, string>;
  /** Collect process metrics (CPU, memory, event loop lag); default true. */
  processMetrics?: boolean;
}

/**
 * A fresh prom-client registry. Never the library's global default registry: each service (and each test)
 * owns its own, so two services in one process do not share series.
 */
export function createMetricsRegistry(options: MetricsRegistryOptions = {}): Registry {
  const registry = new Registry();
  if (options.defaultLabels) registry.setDefaultLabels(options.defaultLabels);
  if (options.processMetrics ?? true)
    collectDefaultMetrics({
      register: registry,
      eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_INTERVAL_MS,
    });
  return registry;
}

export type { Registry };
