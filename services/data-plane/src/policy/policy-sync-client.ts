import { create } from '@bufbuild/protobuf';
import {
  PolicyApplyOutcome,
  ReportPolicyStatusRequestSchema,
  WatchPolicyRequestSchema,
  type DataPlaneIdentity,
  type PolicySnapshot,
  type WatchPolicyResponse,
} from '@api-router/contracts';
import type { Logger } from '@api-router/observability';
import type { Clock } from '../clock.js';
import type { PolicySyncSettings } from '../config.js';
import { setSyncState, type PolicyMetrics, type SyncState } from '../metrics/policy-metrics.js';
import type { TimerHandle, Timers } from '../timers.js';
import type { PolicyStatusReport, PolicyStatusReporter } from './policy-holder.js';
import type { PolicySyncTransport, WatchPolicyCall } from './policy-sync-transport.js';

/**
 * State of the policy stream:
 * - `idle`: built, not started.
 * - `connecting`: a WatchPolicy call is open but no snapshot arrived on it yet.
 * - `ready`: at least one message arrived on the current call.
 * - `backoff`: the last call ended; waiting a jittered delay before the next one.
 * - `closed`: terminal, after close().
 * idle → connecting → ready → backoff → connecting → … ; any state → closed.
 */
export type PolicySyncState = SyncState;

export interface PolicySyncStatus {
  readonly state: PolicySyncState;
  /** True in `ready`. */
  readonly connected: boolean;
  /** Epoch ms of the last message or response headers from the control plane; undefined if never. */
  readonly lastSyncAtMs: number | undefined;
  /** Epoch ms of start(); undefined before. */
  readonly startedAtMs: number | undefined;
}

export interface PolicySyncClientDeps {
  transport: PolicySyncTransport;
  identity: Pick<DataPlaneIdentity, 'id' | 'hostname' | 'buildVersion'>;
  settings: Pick<PolicySyncSettings, 'initialBackoffMs' | 'maxBackoffMs' | 'healthyResetMs'>;
  /** Version to send as active_version on each (re)connect, so the control plane can skip resending it. */
  activeVersion: () => bigint;
  /** Handles one received snapshot (the policy holder); its failures are logged, never fatal. */
  onSnapshot: (snapshot: PolicySnapshot) => Promise<void>;
  logger: Logger;
  clock: Clock;
  timers: Timers;
  /** Uniform in [0, 1); jitters the backoff. */
  random: () => number;
  metrics: PolicyMetrics;
}

/**
 * Heartbeat intervals without any message after which a stream is taken for dead. The control plane sends
 * something at least once per interval, so a few of them leave room for a slow write without letting a
 * silent stream (behind an L7 proxy that answers keepalive pings itself) look ready for ever.
 */
export const SILENT_HEARTBEATS_BEFORE_RECONNECT = 3;
/**
 * Floor of that silence: a large snapshot is one message, and a heartbeat interval as short as the control
 * plane allows (100 ms) would cancel its transfer at every attempt, so that the data plane never got it.
 */
export const MIN_SILENCE_BEFORE_RECONNECT_MS = 10_000;

/**
 * Keeps one WatchPolicy stream open to the control plane for the life of the data plane, reconnecting
 * with capped exponential backoff and full jitter (delay uniform in [0, min(max, initial·2^attempt)]).
 * The attempt counter resets when a stream that was ready for `healthyResetMs` ends, so a long-lived
 * connection that drops reconnects quickly. When the control plane states its heartbeat interval, a stream
 * on which nothing arrived for SILENT_HEARTBEATS_BEFORE_RECONNECT intervals (at least
 * MIN_SILENCE_BEFORE_RECONNECT_MS) is cancelled and reconnected
 * like one that failed; a control plane that states none (older ones) is trusted as before (ADR 0002).
 * Also the PolicyStatusReporter of the policy holder.
 */
export class PolicySyncClient implements PolicyStatusReporter {
  readonly #deps: PolicySyncClientDeps;
  #state: PolicySyncState = 'idle';
  #call: WatchPolicyCall | undefined;
  #backoffTimer: TimerHandle | undefined;
  #watchdogTimer: TimerHandle | undefined;
  /** The heartbeat interval the control plane stated last, ms; 0 while it stated none. */
  #heartbeatIntervalMs = 0;
  #attempt = 0;
  #readyAtMs: number | undefined;
  #lastSyncAtMs: number | undefined;
  #startedAtMs: number | undefined;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(deps: PolicySyncClientDeps) {
    this.#deps = deps;
  }

  state(): PolicySyncState {
    return this.#state;
  }

  status(): PolicySyncStatus {
    return {
      state: this.#state,
      connected: this.#state === 'ready',
      lastSyncAtMs: this.#lastSyncAtMs,
      startedAtMs: this.#startedAtMs,
    };
  }

  /** Opens the first stream. Only valid in `idle`; later calls are ignored. */
  start(): void {
    if (this.#state !== 'idle') return;
    this.#startedAtMs = this.#deps.clock.now();
    this.#connect();
  }

  /** Sends a ReportPolicyStatus; fire-and-forget (a lost report is repaired by the next active_version). */
  report(report: PolicyStatusReport): void {
    if (this.#state === 'closed') return;
    const request = create(ReportPolicyStatusRequestSchema, {
      dataPlane: this.#deps.identity,
      version: report.version,
      outcome: report.outcome === 'applied' ? PolicyApplyOutcome.APPLIED : PolicyApplyOutcome.REJECTED,
      reason: report.reason,
      activeVersion: report.activeVersion,
    });
    const sending = this.#deps.transport.reportPolicyStatus(request).catch((error: unknown) => {
      this.#deps.logger.warn(
        { err: error, version: report.version.toString() },
        'policy status report failed',
      );
    });
    this.#inFlight.add(sending);
    void sending.finally(() => this.#inFlight.delete(sending));
  }

  /** Ends the stream, cancels a pending reconnect, waits for in-flight reports, closes the channel. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#transition('closed');
    this.#call?.cancel();
    this.#call = undefined;
    this.#stopWatchdog();
    if (this.#backoffTimer !== undefined) this.#deps.timers.clearTimeout(this.#backoffTimer);
    this.#backoffTimer = undefined;
    await Promise.allSettled([...this.#inFlight]);
    this.#deps.transport.close();
  }

  #connect(): void {
    this.#backoffTimer = undefined;
    if (this.#state === 'closed') return;
    this.#readyAtMs = undefined;
    this.#transition('connecting');
    const request = create(WatchPolicyRequestSchema, {
      dataPlane: this.#deps.identity,
      activeVersion: this.#deps.activeVersion(),
    });
    const call = this.#deps.transport.watchPolicy(request, {
      onHeaders: () => {
        if (this.#call === call) this.#lastSyncAtMs = this.#deps.clock.now();
      },
      onMessage: (response) => {
        if (this.#call === call) this.#receive(response);
      },
      onEnd: (error) => {
        if (this.#call === call) this.#streamEnded(error);
      },
    });
    this.#call = call;
    // The control plane answers a new call at once (the snapshot, or an empty response), so the interval
    // it stated on the previous stream also bounds the wait for the first message of this one.
    this.#restartWatchdog();
  }

  /** (Re)arms the silence deadline of the current call, or leaves it off while no interval is known. */
  #restartWatchdog(): void {
    this.#stopWatchdog();
    if (this.#heartbeatIntervalMs <= 0) return;
    const silenceMs = Math.max(
      MIN_SILENCE_BEFORE_RECONNECT_MS,
      this.#heartbeatIntervalMs * SILENT_HEARTBEATS_BEFORE_RECONNECT,
    );
    const call = this.#call;
    this.#watchdogTimer = this.#deps.timers.setTimeout(() => {
      this.#watchdogTimer = undefined;
      if (call === undefined || this.#call !== call) return;
      call.cancel();
      this.#streamEnded(
        new Error(
          `no message from the control plane for ${silenceMs} ms ` +
            `(stated heartbeat interval ${this.#heartbeatIntervalMs} ms)`,
        ),
      );
    }, silenceMs);
  }

  #stopWatchdog(): void {
    if (this.#watchdogTimer !== undefined) this.#deps.timers.clearTimeout(this.#watchdogTimer);
    this.#watchdogTimer = undefined;
  }

  #receive(response: WatchPolicyResponse): void {
    const now = this.#deps.clock.now();
    this.#lastSyncAtMs = now;
    this.#heartbeatIntervalMs = response.heartbeatIntervalMs;
    this.#restartWatchdog();
    if (this.#state === 'connecting') {
      this.#readyAtMs = now;
      this.#transition('ready');
      this.#deps.logger.info(
        { activeVersion: this.#deps.activeVersion().toString() },
        'control plane connected',
      );
    }
    const snapshot = response.snapshot;
    // An empty response carries nothing to apply; it still counts as a sign of life.
    if (snapshot === undefined) return;
    void this.#deps.onSnapshot(snapshot).catch((error: unknown) => {
      this.#deps.logger.error(
        { err: error, version: snapshot.version.toString() },
        'policy snapshot handling failed',
      );
    });
  }

  #streamEnded(error: Error | undefined): void {
    this.#call = undefined;
    this.#stopWatchdog();
    const now = this.#deps.clock.now();
    if (this.#readyAtMs !== undefined && now - this.#readyAtMs >= this.#deps.settings.healthyResetMs) {
      this.#attempt = 0;
    }
    const ceilingMs = Math.min(
      this.#deps.settings.maxBackoffMs,
      this.#deps.settings.initialBackoffMs * 2 ** Math.min(this.#attempt, 30),
    );
    const delayMs = Math.floor(this.#deps.random() * ceilingMs);
    this.#attempt += 1;
    // The message is enough (e.g. "14 UNAVAILABLE: … ECONNREFUSED"); a stack per retry would only add noise.
    this.#deps.logger.warn(
      {
        reason: error?.message ?? 'stream ended by the control plane',
        attempt: this.#attempt,
        delayMs,
        wasReady: this.#readyAtMs !== undefined,
      },
      'policy stream ended, reconnecting after backoff',
    );
    this.#transition('backoff');
    this.#backoffTimer = this.#deps.timers.setTimeout(() => this.#connect(), delayMs);
  }

  #transition(state: PolicySyncState): void {
    this.#state = state;
    setSyncState(this.#deps.metrics, state);
  }
}
