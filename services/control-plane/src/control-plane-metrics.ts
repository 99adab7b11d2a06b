import { Counter, Gauge, type Registry } from 'prom-client';

/** The control plane's own series (names agreed in notes/planes.md). Labels are closed, low-cardinality sets. */
export interface ControlPlaneMetrics {
  /** router_cp_published_version: version of the snapshot being published (0 before the first). */
  publishedVersion: Gauge;
  /** router_cp_config_reloads_total{outcome="applied|unchanged|invalid"}. */
  configReloads: Counter<'outcome'>;
  /** router_cp_snapshot_rejections_total: rejections reported by data planes. */
  snapshotRejections: Counter;
  /** router_cp_policy_streams_active: open WatchPolicy streams. */
  policyStreamsActive: Gauge;
  /** router_cp_records_ingested_total{type="usage|audit"}: records newly stored by IngestRecords. */
  recordsIngested: Counter<'type'>;
  /** router_cp_records_duplicate_total: records received again (re-sent batches), not stored twice. */
  recordsDuplicate: Counter;
  /** router_cp_records_rejected_total: records that can never be stored (no payload or id); dropped. */
  recordsRejected: Counter;
}

export interface ControlPlaneMetricsOptions {
  registry: Registry;
  /** Counted at scrape time for router_cp_data_planes{state="connected|disconnected"}. */
  countDataPlanes: () => { connected: number; disconnected: number };
}

/** Registers the control plane's series on `registry` (never the prom-client default registry). */
export function createControlPlaneMetrics(options: ControlPlaneMetricsOptions): ControlPlaneMetrics {
  const registers = [options.registry];
  new Gauge({
    name: 'router_cp_data_planes',
    help: 'Data planes known to this control plane, by stream state.',
    labelNames: ['state'],
    registers,
    collect() {
      const counts = options.countDataPlanes();
      this.set({ state: 'connected' }, counts.connected);
      this.set({ state: 'disconnected' }, counts.disconnected);
    },
  });
  const configReloads = new Counter({
    name: 'router_cp_config_reloads_total',
    help: 'Config documents received from the config source, by outcome.',
    labelNames: ['outcome'],
    registers,
  });
  for (const outcome of ['applied', 'unchanged', 'invalid']) configReloads.inc({ outcome }, 0);
  const recordsIngested = new Counter({
    name: 'router_cp_records_ingested_total',
    help: 'Records from data-plane outboxes newly stored in the audit store, by type.',
    labelNames: ['type'],
    registers,
  });
  for (const type of ['usage', 'audit']) recordsIngested.inc({ type }, 0);
  return {
    publishedVersion: new Gauge({
      name: 'router_cp_published_version',
      help: 'Version of the policy snapshot being published; 0 before the first.',
      registers,
    }),
    configReloads,
    snapshotRejections: new Counter({
      name: 'router_cp_snapshot_rejections_total',
      help: 'Snapshots that data planes reported as rejected.',
      registers,
    }),
    policyStreamsActive: new Gauge({
      name: 'router_cp_policy_streams_active',
      help: 'Open WatchPolicy streams.',
      registers,
    }),
    recordsIngested,
    recordsDuplicate: new Counter({
      name: 'router_cp_records_duplicate_total',
      help: 'Records received that were already stored (re-sent outbox batches); not stored twice.',
      registers,
    }),
    recordsRejected: new Counter({
      name: 'router_cp_records_rejected_total',
      help: 'Records that can never be stored (no payload, empty id); dropped and logged.',
      registers,
    }),
  };
}
