import type { LimitsReadinessDetail } from '../admission/limit-store-health.js';
import type { Clock } from '../clock.js';
import type { ActivePolicy, PolicySource } from '../policy/policy-holder.js';
import type { PolicySyncStatus } from '../policy/policy-sync-client.js';
import type { OutboxStatus } from '../records/record-shipping.js';

/** Body of GET /readyz, both when ready (200) and not (503). */
export interface ReadinessDetail {
  ready: boolean;
  /** True once shutdown began: readiness is 503 so load balancers stop sending new traffic. */
  draining: boolean;
  policy: {
    /** Decimal string: versions are uint64. */
    version: string;
    contentHash: string;
    /** Seconds since the control plane created the snapshot. */
    ageSeconds: number;
    source: PolicySource;
  } | null;
  controlPlane: {
    state: PolicySyncStatus['state'];
    connected: boolean;
    /** Seconds since the last message or successful connect; null if the control plane was never reached. */
    lastSyncAgeSeconds: number | null;
  };
  /**
   * The record outbox: its state, undelivered records, the oldest one's age, and where they ship. A backlog
   * does not make the data plane unready (records are durable on disk); a full outbox makes requests fail
   * 503; a failed one (an I/O error) makes it unready and not live. Absent when the data plane runs without
   * one (tests of the HTTP shell).
   */
  outbox?: OutboxStatus;
  /**
   * The limit store: `redis` or `memory`, and whether it is degraded (unreachable; requests are admitted
   * per the store-failure policy) since when. Degraded does not make the data plane unready. Absent in
   * tests of the HTTP shell.
   */
  limits?: LimitsReadinessDetail;
}

export interface ReadinessDeps {
  clock: Clock;
  activePolicy: () => ActivePolicy | undefined;
  controlPlane: () => PolicySyncStatus;
  outbox?: () => OutboxStatus;
  limits?: () => LimitsReadinessDetail;
}

/** Body of GET /healthz: `ok` while the process can serve, else why a restart is needed. */
export type LivenessDetail = { status: 'ok' } | { status: 'failed'; reason: 'outbox_failed' };

/**
 * Whether this data plane should receive traffic: yes once a policy is active (from the control plane or
 * the disk cache), whatever the control plane's state — a data plane keeps serving the last good policy
 * while the control plane is away. No from the moment shutdown begins, and no while the outbox is failed.
 *
 * Liveness fails only for a state the process cannot leave by itself: a failed outbox refuses every
 * append (so every request) until it is reopened, and a restart reopens it (recovery drops a torn tail).
 */
export class Readiness {
  readonly #deps: ReadinessDeps;
  #draining = false;

  constructor(deps: ReadinessDeps) {
    this.#deps = deps;
  }

  /** Turns readiness to 503 for good (the first step of a graceful shutdown). */
  beginDrain(): void {
    this.#draining = true;
  }

  liveness(): LivenessDetail {
    return this.#deps.outbox?.().state === 'failed'
      ? { status: 'failed', reason: 'outbox_failed' }
      : { status: 'ok' };
  }

  detail(): ReadinessDetail {
    const now = this.#deps.clock.now();
    const active = this.#deps.activePolicy();
    const controlPlane = this.#deps.controlPlane();
    const outbox = this.#deps.outbox?.();
    return {
      ready: active !== undefined && !this.#draining && outbox?.state !== 'failed',
      draining: this.#draining,
      policy:
        active === undefined
          ? null
          : {
              version: active.policy.version.toString(),
              contentHash: active.policy.contentHash,
              ageSeconds: secondsSince(now, active.policy.createdAt.getTime()),
              source: active.source,
            },
      controlPlane: {
        state: controlPlane.state,
        connected: controlPlane.connected,
        lastSyncAgeSeconds:
          controlPlane.lastSyncAtMs === undefined ? null : secondsSince(now, controlPlane.lastSyncAtMs),
      },
      ...(outbox === undefined ? {} : { outbox }),
      ...(this.#deps.limits === undefined ? {} : { limits: this.#deps.limits() }),
    };
  }
}

/** Whole seconds elapsed, never negative (clocks of two machines disagree a little). */
export function secondsSince(nowMs: number, thenMs: number): number {
  return Math.max(0, Math.floor((nowMs - thenMs) / 1000));
}
