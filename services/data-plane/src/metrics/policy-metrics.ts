import { Counter, Gauge, type Registry } from 'prom-client';

export type PolicyUpdateOutcome = 'applied' | 'rejected';
export type CacheLoadOutcome = 'loaded' | 'missing' | 'corrupt';
export type SyncState = 'idle' | 'connecting' | 'ready' | 'backoff' | 'closed';

export const SYNC_STATES: readonly SyncState[] = ['idle', 'connecting', 'ready', 'backoff', 'closed'];

/** Policy and control-plane metrics of the data plane (names agreed in notes/planes.md). */
export interface PolicyMetrics {
  /** router_policy_version: version of the active snapshot (0 while none). */
  readonly policyVersion: Gauge;
  /** router_policy_updates_total{outcome}: every snapshot handled, from the control plane or the cache. */
  readonly updatesTotal: Counter<'outcome'>;
  /** router_control_plane_connected: 1 while the policy stream is ready. */
  readonly controlPlaneConnected: Gauge;
  /** router_control_plane_state{state}: 1 for the sync client's current state, 0 for the others. */
  readonly controlPlaneState: Gauge<'state'>;
  /** router_policy_cache_load_total{outcome}: result of reading the disk cache at start. */
  readonly cacheLoadTotal: Counter<'outcome'>;
}

/** Registers the policy metrics on the service's own registry. */
export function createPolicyMetrics(registry: Registry): PolicyMetrics {
  const registers = [registry];
  const metrics: PolicyMetrics = {
    policyVersion: new Gauge({
      name: 'router_policy_version',
      help: 'Version of the active policy snapshot (0 while none is active).',
      registers,
    }),
    updatesTotal: new Counter({
      name: 'router_policy_updates_total',
      help: 'Policy snapshots handled, by outcome.',
      labelNames: ['outcome'],
      registers,
    }),
    controlPlaneConnected: new Gauge({
      name: 'router_control_plane_connected',
      help: '1 while the policy stream to the control plane is ready, else 0.',
      registers,
    }),
    controlPlaneState: new Gauge({
      name: 'router_control_plane_state',
      help: 'State of the policy sync client: 1 for the current state.',
      labelNames: ['state'],
      registers,
    }),
    cacheLoadTotal: new Counter({
      name: 'router_policy_cache_load_total',
      help: 'Reads of the policy snapshot disk cache at start, by outcome.',
      labelNames: ['outcome'],
      registers,
    }),
  };
  // Pre-create every series so dashboards and rate() see zeros instead of missing series.
  for (const outcome of ['applied', 'rejected'] satisfies PolicyUpdateOutcome[])
    metrics.updatesTotal.inc({ outcome }, 0);
  for (const outcome of ['loaded', 'missing', 'corrupt'] satisfies CacheLoadOutcome[]) {
    metrics.cacheLoadTotal.inc({ outcome }, 0);
  }
  setSyncState(metrics, 'idle');
  return metrics;
}

/** Sets router_control_plane_state and router_control_plane_connected for a state transition. */
export function setSyncState(metrics: PolicyMetrics, state: SyncState): void {
  for (const candidate of SYNC_STATES)
    metrics.controlPlaneState.set({ state: candidate }, candidate === state ? 1 : 0);
  metrics.controlPlaneConnected.set(state === 'ready' ? 1 : 0);
}

/** Sources of the gauges computed at scrape time, in seconds; undefined = unknown (the series reads NaN). */
export interface PolicyAgeSources {
  /** now − created_at of the active snapshot. */
  policyAgeSeconds(): number | undefined;
  /** Time since the last message or successful connect from the control plane. */
  lastSyncAgeSeconds(): number | undefined;
}

/**
 * Registers router_policy_age_seconds and router_policy_last_sync_age_seconds, computed on each scrape.
 * Separate from createPolicyMetrics because their sources (policy holder, sync client) are built later.
 */
export function registerPolicyAgeGauges(registry: Registry, sources: PolicyAgeSources): void {
  new Gauge({
    name: 'router_policy_age_seconds',
    help: 'Seconds since the active policy snapshot was created by the control plane (NaN while none).',
    registers: [registry],
    collect() {
      this.set(sources.policyAgeSeconds() ?? Number.NaN);
    },
  });
  new Gauge({
    name: 'router_policy_last_sync_age_seconds',
    help: 'Seconds since the last message or successful connect from the control plane.',
    registers: [registry],
    collect() {
      this.set(sources.lastSyncAgeSeconds() ?? Number.NaN);
    },
  });
}
