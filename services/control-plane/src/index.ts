export { loadConfig, type ControlPlaneConfig, type ConfigSourceConfig } from './config.js';
export { startControlPlane, type ControlPlane, type ControlPlaneDeps } from './service.js';
export type { Clock } from './clock.js';
export type { ConfigSource, ConfigSourceListener } from './config-source.js';
export { ConfigSourceError } from './config-source.js';
