import { Registry, collectDefaultMetrics } from 'prom-client';

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
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}

export type { Registry };
