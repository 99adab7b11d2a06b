import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import {
  DataPlaneIdentitySchema,
  DataPlaneStatusSchema,
  PolicyApplyOutcome,
  type DataPlaneIdentity,
  type DataPlaneStatus,
} from '@api-router/contracts';
import type { Clock } from './clock.js';

/** What a data plane reported about one snapshot (ReportPolicyStatus). */
export interface PolicyReport {
  version: bigint;
  outcome: PolicyApplyOutcome;
  reason: string;
  /** Version active on the data plane after handling the snapshot. */
  activeVersion: bigint;
}

interface DataPlaneEntry {
  identity: DataPlaneIdentity;
  peer: string;
  /** Open WatchPolicy streams; a reconnect may open the new stream before the old one is noticed closed. */
  openStreams: number;
  lastSeenAtMs: number;
  appliedVersion: bigint;
  rejectedVersion: bigint;
  rejectReason: string;
  rejectedAtMs: number | undefined;
}

export interface DataPlaneRegistryOptions {
  clock: Clock;
  /** How long a disconnected data plane stays listed; default one hour. */
  retentionMs?: number;
  /** Most disconnected data planes kept (the longest unseen go first); default 10 000. */
  maxDisconnected?: number;
}

/** Longest reject reason kept; a longer one keeps its start and its length. */
export const MAX_REJECT_REASON_CHARACTERS = 2000;

/**
 * Data planes known to this control plane (in memory: after a restart, data planes reappear as they
 * reconnect). Keyed by the data plane's self-chosen id. Bounded: PolicySyncService is not authenticated
 * (ADR 0002) and any caller reaching it can report under fresh ids, so disconnected entries are capped
 * (`maxDisconnected`) besides expiring, and reject reasons are cut; connected ones are never dropped (one
 * per open stream at most).
 */
export class DataPlaneRegistry {
  readonly #clock: Clock;
  readonly #retentionMs: number;
  readonly #maxDisconnected: number;
  readonly #entries = new Map<string, DataPlaneEntry>();

  constructor(options: DataPlaneRegistryOptions) {
    this.#clock = options.clock;
    this.#retentionMs = options.retentionMs ?? 3_600_000;
    this.#maxDisconnected = options.maxDisconnected ?? 10_000;
  }

  /**
   * A policy stream opened; `activeVersion` is the version the data plane says it runs (WatchPolicy's
   * active_version). Recorded as its applied version: a data plane that already runs the published version
   * gets an empty response and sends no report, so after a control-plane restart this is the only way to
   * learn it. Pair every call with `disconnect`.
   */
  connect(identity: DataPlaneIdentity, peer: string, activeVersion: bigint): void {
    const entry = this.#touch(identity, peer);
    entry.openStreams += 1;
    entry.appliedVersion = activeVersion;
  }

  /** A policy stream closed. */
  disconnect(identity: DataPlaneIdentity): void {
    const entry = this.#entries.get(identity.id);
    if (entry === undefined) return;
    entry.openStreams = Math.max(0, entry.openStreams - 1);
    entry.lastSeenAtMs = this.#clock.now();
    this.#bound();
  }

  /** Records a ReportPolicyStatus; a report from an unknown data plane registers it. */
  report(identity: DataPlaneIdentity, peer: string, report: PolicyReport): void {
    // The listed peer is the policy stream's; a report arrives on its own connection.
    const streaming = (this.#entries.get(identity.id)?.openStreams ?? 0) > 0;
    const entry = this.#touch(identity, streaming ? '' : peer);
    entry.appliedVersion = report.activeVersion;
    if (report.outcome === PolicyApplyOutcome.APPLIED && report.activeVersion === 0n) {
      entry.appliedVersion = report.version;
    }
    if (report.outcome === PolicyApplyOutcome.REJECTED) {
      entry.rejectedVersion = report.version;
      entry.rejectReason = boundReason(report.reason);
      entry.rejectedAtMs = this.#clock.now();
    }
    this.#bound();
  }

  /** Every known data plane, sorted by id. */
  list(): DataPlaneStatus[] {
    this.#prune();
    return [...this.#entries.values()]
      .sort((a, b) => (a.identity.id < b.identity.id ? -1 : a.identity.id > b.identity.id ? 1 : 0))
      .map((entry) =>
        create(DataPlaneStatusSchema, {
          identity: create(DataPlaneIdentitySchema, entry.identity),
          connected: entry.openStreams > 0,
          lastSeenAt: timestampFromMs(entry.openStreams > 0 ? this.#clock.now() : entry.lastSeenAtMs),
          appliedVersion: entry.appliedVersion,
          rejectedVersion: entry.rejectedVersion,
          rejectReason: entry.rejectReason,
          rejectedAt: entry.rejectedAtMs === undefined ? undefined : timestampFromMs(entry.rejectedAtMs),
          peer: entry.peer,
        }),
      );
  }

  /** For the router_cp_data_planes gauge. */
  counts(): { connected: number; disconnected: number } {
    this.#prune();
    let connected = 0;
    for (const entry of this.#entries.values()) if (entry.openStreams > 0) connected += 1;
    return { connected, disconnected: this.#entries.size - connected };
  }

  #touch(identity: DataPlaneIdentity, peer: string): DataPlaneEntry {
    let entry = this.#entries.get(identity.id);
    if (entry === undefined) {
      entry = {
        identity,
        peer,
        openStreams: 0,
        lastSeenAtMs: 0,
        appliedVersion: 0n,
        rejectedVersion: 0n,
        rejectReason: '',
        rejectedAtMs: undefined,
      };
      this.#entries.set(identity.id, entry);
    }
    entry.identity = identity;
    if (peer !== '') entry.peer = peer;
    entry.lastSeenAtMs = this.#clock.now();
    return entry;
  }

  /** Drops expired entries, then the longest unseen disconnected ones beyond `maxDisconnected`. */
  #bound(): void {
    this.#prune();
    let disconnected = 0;
    for (const entry of this.#entries.values()) if (entry.openStreams === 0) disconnected += 1;
    for (; disconnected > this.#maxDisconnected; disconnected -= 1) {
      let oldest: [string, DataPlaneEntry] | undefined;
      for (const item of this.#entries) {
        if (
          item[1].openStreams === 0 &&
          (oldest === undefined || item[1].lastSeenAtMs < oldest[1].lastSeenAtMs)
        )
          oldest = item;
      }
      if (oldest !== undefined) this.#entries.delete(oldest[0]);
    }
  }

  #prune(): void {
    const oldestMs = this.#clock.now() - this.#retentionMs;
    for (const [id, entry] of this.#entries) {
      if (entry.openStreams === 0 && entry.lastSeenAtMs < oldestMs) this.#entries.delete(id);
    }
  }
}

/** A reject reason as kept (and logged): its start and, when cut, its length. */
export function boundReason(reason: string): string {
  if (reason.length <= MAX_REJECT_REASON_CHARACTERS) return reason;
  return `${reason.slice(0, MAX_REJECT_REASON_CHARACTERS)}… (${String(reason.length)} characters)`;
}
