import type { FaultSettings } from './config.js';

/**
 * The runtime-switchable part of an instance: health and instance-wide fault settings. Changed through
 * `/control/*` or the in-process handle; every request reads the current value.
 */
export interface MockBackendState {
  isHealthy(): boolean;
  setHealthy(healthy: boolean): void;
  faults(): Readonly<FaultSettings>;
  /** Replaces the fault settings with `patch` applied over the current ones; returns the result. */
  updateFaults(patch: Partial<FaultSettings>): Readonly<FaultSettings>;
}

export function createMockBackendState(initial: {
  healthy: boolean;
  faults: FaultSettings;
}): MockBackendState {
  let healthy = initial.healthy;
  // Replaced, never mutated, so a request that already read the settings keeps a consistent view.
  let faults: Readonly<FaultSettings> = Object.freeze({ ...initial.faults });
  return {
    isHealthy: () => healthy,
    setHealthy(value) {
      healthy = value;
    },
    faults: () => faults,
    updateFaults(patch) {
      faults = Object.freeze({ ...faults, ...patch });
      return faults;
    },
  };
}
