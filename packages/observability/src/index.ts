export { createLogger, REDACTED_PATHS, type Logger, type LoggerOptions } from './logger.js';
export { LazyChildLogger } from './lazy-child-logger.js';
export {
  createMetricsRegistry,
  EVENT_LOOP_SAMPLE_INTERVAL_MS,
  type Registry,
  type MetricsRegistryOptions,
} from './metrics-registry.js';
export { createTracing, type Tracing, type TracingOptions } from './tracing.js';
