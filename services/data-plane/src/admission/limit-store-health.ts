import type { Logger } from '@api-router/observability';
import type { Clock } from '../clock.js';
import type { TimerHandle, Timers } from '../timers.js';

/** Which limit store this replica shares (or not). */
export type LimitStoreKind = 'redis' | 'memory';

/** The `limits` field of the readiness detail. */
export interface LimitsReadinessDetail {
  store: LimitStoreKind;
  /** True while the shared store is unreachable and requests are admitted per the store-failure policy. */
  degraded: boolean;
  /** ISO time degraded mode began; null when not degraded. */
  since: string | null;
}

export interface LimitStoreHealthDeps {
  readonly kind: LimitStoreKind;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly logger: Pick<Logger, 'warn' | 'info'>;
  /** A cheap round trip to the store (Redis PING) that rejects when it fails or takes too long. */
  readonly probe: () => Promise<void>;
  /** Time between probes while degraded, in ms. */
  readonly probeIntervalMs: number;
  /** Called with the new state on every transition (the degraded gauge). */
  readonly onChange: (degraded: boolean) => void;
}

/**
 * Degraded mode of the shared limit store, a two-state machine: `healthy` → `degraded` on a failed store
 * call (`failed()`); `degraded` → `healthy` on any successful store call (`succeeded()`) or a successful
 * probe, which runs at once and then every `probeIntervalMs` while degraded. While degraded, admissions skip the shared
 * store and apply the store-failure policy at once, so a hung Redis costs one timeout, not one per request.
 * The memory store never degrades. `close()` stops the probe.
 */
export class LimitStoreHealth {
  readonly #deps: LimitStoreHealthDeps;
  #degradedSinceMs: number | undefined;
  #probeTimer: TimerHandle | undefined;
  #probing = false;
  #closed = false;

  constructor(deps: LimitStoreHealthDeps) {
    this.#deps = deps;
  }

  get degraded(): boolean {
    return this.#degradedSinceMs !== undefined;
  }

  detail(): LimitsReadinessDetail {
    return {
      store: this.#deps.kind,
      degraded: this.degraded,
      since: this.#degradedSinceMs === undefined ? null : new Date(this.#degradedSinceMs).toISOString(),
    };
  }

  /** A store call failed with LimitStoreUnavailableError (`failure` for the log). */
  failed(failure: string): void {
    if (this.#closed || this.#degradedSinceMs !== undefined) return;
    this.#degradedSinceMs = this.#deps.clock.now();
    this.#deps.logger.warn(
      { failure },
      'limit store unavailable: degraded mode (store-failure policy applies)',
    );
    this.#deps.onChange(true);
    // The first probe at once: a failure caused by a passing hiccup (an event loop stall) ends in one round
    // trip; a real outage is then probed every interval.
    this.#scheduleProbe(0);
  }

  /** A store call succeeded: the store is back. */
  succeeded(): void {
    if (this.#degradedSinceMs === undefined) return;
    const degradedMs = this.#deps.clock.now() - this.#degradedSinceMs;
    this.#degradedSinceMs = undefined;
    if (this.#probeTimer !== undefined) this.#deps.timers.clearTimeout(this.#probeTimer);
    this.#probeTimer = undefined;
    this.#deps.logger.info({ degradedMs }, 'limit store reachable again: degraded mode over');
    this.#deps.onChange(false);
  }

  close(): void {
    this.#closed = true;
    if (this.#probeTimer !== undefined) this.#deps.timers.clearTimeout(this.#probeTimer);
    this.#probeTimer = undefined;
  }

  #scheduleProbe(delayMs = this.#deps.probeIntervalMs): void {
    if (this.#closed || this.#probeTimer !== undefined || this.#degradedSinceMs === undefined) return;
    this.#probeTimer = this.#deps.timers.setTimeout(() => {
      this.#probeTimer = undefined;
      void this.#runProbe();
    }, delayMs);
  }

  async #runProbe(): Promise<void> {
    if (this.#probing) return;
    this.#probing = true;
    try {
      await this.#deps.probe();
      this.succeeded();
    } catch {
      // Still unreachable: stay degraded and probe again after the interval.
    } finally {
      this.#probing = false;
      this.#scheduleProbe();
    }
  }
}
