import type { PolicySnapshot } from '@api-router/contracts';
import type { Logger } from '@api-router/observability';
import { compileRuntimePolicy, SnapshotInvalidError, type RuntimePolicy } from '@api-router/policy';
import type { Clock } from '../clock.js';
import type { PolicyMetrics } from '../metrics/policy-metrics.js';
import type { TimerHandle, Timers } from '../timers.js';
import type { CredentialRefChecker } from './credential-ref-checker.js';

/** Where an applied snapshot came from. */
export type PolicySource = 'control-plane' | 'cache';

/** The policy the data plane serves with. Immutable; replaced whole on each apply. */
export interface ActivePolicy {
  readonly policy: RuntimePolicy;
  readonly source: PolicySource;
  /** Milliseconds since the epoch when it was swapped in. */
  readonly appliedAtMs: number;
}

export type ApplyResult =
  | { readonly outcome: 'applied'; readonly version: bigint }
  | { readonly outcome: 'rejected'; readonly version: bigint; readonly reason: string };

/** What the holder tells the control plane about each snapshot it handled (ReportPolicyStatus). */
export interface PolicyStatusReport {
  readonly version: bigint;
  readonly outcome: 'applied' | 'rejected';
  /** Empty when applied. */
  readonly reason: string;
  /** Version active after handling the snapshot; 0 while none. */
  readonly activeVersion: bigint;
}

/** Delivers reports to the control plane. Fire-and-forget: must not throw, must log its own failures. */
export interface PolicyStatusReporter {
  report(report: PolicyStatusReport): void;
}

export interface PolicyHolderDeps {
  logger: Logger;
  clock: Clock;
  /** Schedules the retries of a snapshot rejected for an unresolved credential reference. */
  timers: Timers;
  metrics: PolicyMetrics;
  credentialRefs: CredentialRefChecker;
  reporter: PolicyStatusReporter;
  /**
   * Called, inside the apply, with each control-plane snapshot swapped in (the disk cache persists it), also
   * when a retry swapped it in; its failure fails that apply.
   */
  onApplied?: (snapshot: PolicySnapshot) => Promise<void>;
}

/**
 * Retry delays of a snapshot rejected because a credential reference did not resolve (a secret file not
 * mounted yet, say): the control plane does not send it again while its content is unchanged, so without
 * them the data plane would wait for the next reconnect. Doubling from the first, capped, until it applies
 * or the control plane sends another snapshot.
 */
export const CREDENTIAL_RETRY_INITIAL_MS = 1_000;
export const CREDENTIAL_RETRY_MAX_MS = 60_000;

/** Why #prepare refused a snapshot; only a credential reference that did not resolve may resolve later. */
class Refusal {
  constructor(
    readonly reason: string,
    readonly credentials: boolean,
  ) {}
}

/**
 * The atomic reference to the active policy. `apply` compiles and checks a snapshot completely before one
 * reference assignment swaps it in, so a reader sees either the old or the new policy, never a mix, and a
 * rejected snapshot leaves the last good policy untouched. Applies run one at a time, in call order.
 */
export class PolicyHolder {
  readonly #deps: PolicyHolderDeps;
  #active: ActivePolicy | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  /** The last snapshot the control plane sent: the only one ever retried. */
  #latestFromControlPlane: PolicySnapshot | undefined;
  #retryTimer: TimerHandle | undefined;
  #closed = false;

  constructor(deps: PolicyHolderDeps) {
    this.#deps = deps;
  }

  /** The active policy, or undefined while none was ever applied. Cheap: read it on every request. */
  current(): ActivePolicy | undefined {
    return this.#active;
  }

  /** Version of the active policy, 0n while none. */
  activeVersion(): bigint {
    return this.#active?.policy.version ?? 0n;
  }

  /**
   * Validates and swaps in `snapshot`. The active snapshot itself (same version and content hash) is
   * `applied` again with nothing swapped. Rejected when its version is not greater than the active one (a
   * control-plane snapshot replaces one read from the disk cache whatever their versions), when
   * compileRuntimePolicy finds it invalid, or when a credential reference does not resolve here (then
   * retried on its own, see CREDENTIAL_RETRY_INITIAL_MS). Every outcome is counted, logged, and (for
   * control-plane snapshots) reported back. Throws only what `onApplied` throws.
   */
  apply(snapshot: PolicySnapshot, source: PolicySource): Promise<ApplyResult> {
    if (source === 'control-plane') {
      // Whatever the control plane sent last supersedes a pending retry of an earlier snapshot.
      this.#latestFromControlPlane = snapshot;
      this.#cancelRetry();
    }
    return this.#enqueue(snapshot, source, CREDENTIAL_RETRY_INITIAL_MS);
  }

  /** Cancels a pending retry; later applies schedule none. */
  close(): void {
    this.#closed = true;
    this.#cancelRetry();
  }

  #enqueue(snapshot: PolicySnapshot, source: PolicySource, retryDelayMs: number): Promise<ApplyResult> {
    const result = this.#queue.then(() => this.#applyNow(snapshot, source, retryDelayMs));
    // Keep the chain alive whatever happens to one apply, so a bug in one never blocks all later ones.
    this.#queue = result.catch(() => undefined);
    return result;
  }

  async #applyNow(
    snapshot: PolicySnapshot,
    source: PolicySource,
    retryDelayMs: number,
  ): Promise<ApplyResult> {
    if (this.#isActive(snapshot)) {
      // The active snapshot again: the control plane re-sends it when the stream reconnects while its apply
      // is in flight (the WatchPolicy request carried the version active before it). Not a rejection: the
      // data plane runs exactly this snapshot, so it is reported applied, with nothing swapped.
      const result: ApplyResult = { outcome: 'applied', version: snapshot.version };
      this.#record(result, snapshot, source, 'policy already active');
      return result;
    }
    // Applies are queued, so nothing can swap between #prepare's version check and the swap below.
    const candidate = await this.#prepare(snapshot, source);
    if (candidate instanceof Refusal) {
      const result: ApplyResult = {
        outcome: 'rejected',
        version: snapshot.version,
        reason: candidate.reason,
      };
      this.#record(result, snapshot, source);
      if (candidate.credentials && source === 'control-plane') this.#scheduleRetry(snapshot, retryDelayMs);
      return result;
    }
    // The swap: one assignment of a fully built, frozen value.
    this.#active = Object.freeze({ policy: candidate, source, appliedAtMs: this.#deps.clock.now() });
    this.#deps.metrics.policyVersion.set(Number(candidate.version));
    const result: ApplyResult = { outcome: 'applied', version: candidate.version };
    this.#record(result, snapshot, source);
    if (source === 'control-plane') await this.#deps.onApplied?.(snapshot);
    return result;
  }

  /** Applies `snapshot` again after `delayMs`, unless the control plane sent another one meanwhile. */
  #scheduleRetry(snapshot: PolicySnapshot, delayMs: number): void {
    if (this.#closed || snapshot !== this.#latestFromControlPlane) return;
    this.#cancelRetry();
    this.#deps.logger.info(
      { version: snapshot.version.toString(), delayMs },
      'credential reference unresolved; retrying the snapshot after a delay',
    );
    const nextDelayMs = Math.min(CREDENTIAL_RETRY_MAX_MS, delayMs * 2);
    this.#retryTimer = this.#deps.timers.setTimeout(() => {
      this.#retryTimer = undefined;
      if (this.#closed || snapshot !== this.#latestFromControlPlane) return;
      // Outcomes are counted, logged and reported as for any apply; a failing onApplied is only logged here.
      this.#enqueue(snapshot, 'control-plane', nextDelayMs).catch((error: unknown) => {
        this.#deps.logger.error(
          { err: error, version: snapshot.version.toString() },
          'policy snapshot retry failed',
        );
      });
    }, delayMs);
  }

  #cancelRetry(): void {
    if (this.#retryTimer !== undefined) this.#deps.timers.clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
  }

  /** Same version and content hash as the active policy (a version is never reused for other content). */
  #isActive(snapshot: PolicySnapshot): boolean {
    const active = this.#active?.policy;
    return (
      active !== undefined &&
      active.version === snapshot.version &&
      active.contentHash === snapshot.contentHash
    );
  }

  /** The compiled policy, or why it must not be applied. Touches no live state. */
  async #prepare(snapshot: PolicySnapshot, source: PolicySource): Promise<RuntimePolicy | Refusal> {
    const active = this.activeVersion();
    // A policy read from the disk cache only stands in until the control plane answers (ADR 0002): its
    // version may come from another control plane, or from before this one lost its state with a clock
    // behind, and must not make the data plane refuse every snapshot the control plane publishes.
    const standIn = this.#active?.source === 'cache' && source === 'control-plane';
    if (snapshot.version <= active && !standIn) {
      const reason = `version ${snapshot.version} is not greater than the active version ${active}`;
      return new Refusal(reason, false);
    }
    let policy: RuntimePolicy;
    try {
      policy = compileRuntimePolicy(snapshot);
    } catch (error: unknown) {
      if (error instanceof SnapshotInvalidError) return new Refusal(error.reason, false);
      // Not a validation problem but a bug in the compiler; still never take down the data plane for it.
      this.#deps.logger.error({ err: error, version: snapshot.version.toString() }, 'policy compile failed');
      const message = error instanceof Error ? error.message : String(error);
      return new Refusal(`internal error while compiling: ${message}`, false);
    }
    const unresolved = await this.#deps.credentialRefs.check(policy);
    return unresolved === undefined ? policy : new Refusal(unresolved, true);
  }

  #record(
    result: ApplyResult,
    snapshot: PolicySnapshot,
    source: PolicySource,
    appliedMessage = 'policy applied',
  ): void {
    const { logger, metrics, reporter } = this.#deps;
    metrics.updatesTotal.inc({ outcome: result.outcome });
    const version = result.version.toString();
    if (result.outcome === 'applied') {
      logger.info({ version, contentHash: snapshot.contentHash, source }, appliedMessage);
    } else {
      logger.warn(
        { version, reason: result.reason, source, activeVersion: this.activeVersion().toString() },
        'policy rejected',
      );
    }
    // A snapshot read back from the disk cache never came from this control-plane session; the control
    // plane learns our active version from the next WatchPolicy request instead.
    if (source !== 'control-plane') return;
    reporter.report({
      version: result.version,
      outcome: result.outcome,
      reason: result.outcome === 'rejected' ? result.reason : '',
      activeVersion: this.activeVersion(),
    });
  }
}
