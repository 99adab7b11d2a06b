import {
  LimitStoreUnavailableError,
  type LimitStore,
  type ReleaseOutcome,
  type Reservation,
  type SettleOutcome,
} from '@api-router/limits';
import type { RuntimePolicy } from '@api-router/policy';
import type { Logger } from '@api-router/observability';
import type { AdmissionMetrics } from '../metrics/admission-metrics.js';
import { delay, type Timers } from '../timers.js';
import type { TokenCounts } from '../upstream/adapters/provider-adapter.js';
import { settlementUsage } from './admission-costs.js';

/**
 * How a request ended, for its settlement. `responded`: a backend answered 2xx (the request consumed
 * tokens) → settle with its usage; otherwise (no backend reached, an error status, the client gone before
 * any answer) → release.
 */
export type AdmissionOutcome =
  | { readonly responded: false }
  | { readonly responded: true; readonly backendId: string; readonly usage: TokenCounts | undefined };

/** An admitted request: its rate-limit headers, its queue wait, and the way to end its reservation. */
export interface Admission {
  /** `x-ratelimit-*` headers (empty when no rate limit applies). */
  readonly headers: Readonly<Record<string, string>>;
  /** Milliseconds spent in the fair queue (0 when admitted at once). */
  readonly queueMs: number;
  /**
   * Output tokens per choice to impose upstream (in the backend's output limit field, `max_tokens` or
   * `max_completion_tokens`) because the request set no limit and its reservation assumed the policy
   * default; undefined when nothing needs imposing.
   */
  readonly outputCap: number | undefined;
  /**
   * Micro-units reserved for the request's money checks (0 when none). Settlement charges exactly this when
   * a backend answered but reported no usage, so the usage record must say the same.
   */
  readonly reservedCostMicros: number;
  /**
   * Ends the reservation once: settle with the real usage (cost at the serving backend's price; the
   * reservation itself when the backend reported no usage) or release. Runs in the background — never
   * delays the response, never throws; store failures are retried, then logged and counted.
   */
  finish(outcome: AdmissionOutcome): void;
}

/** An admission that holds nothing (no limit applies): finishing it does nothing. */
export const UNLIMITED_ADMISSION: Admission = {
  headers: {},
  queueMs: 0,
  outputCap: undefined,
  reservedCostMicros: 0,
  finish: () => undefined,
};

export interface TicketDeps {
  readonly metrics: AdmissionMetrics;
  readonly timers: Timers;
  readonly logger: Pick<Logger, 'warn'>;
  /** Waits between retries of a settle/release the store could not answer; its length = the retries. */
  readonly retryDelaysMs: readonly number[];
  /** Keeps the background work so shutdown can wait for it. */
  readonly track: (work: Promise<void>) => void;
  /** A slot or reservation of the partition was returned on this replica (wakes the fair queue). */
  readonly slotFreed: (partition: string) => void;
  /** Store health callbacks, for the shared store only. */
  readonly storeSucceeded: () => void;
  readonly storeFailed: (failure: string) => void;
}

export interface TicketInit {
  readonly store: LimitStore;
  /** True when `store` is the shared (Redis) store, whose calls feed degraded-mode detection. */
  readonly shared: boolean;
  readonly reservation: Reservation;
  readonly policy: Pick<RuntimePolicy, 'priceFor'>;
  readonly model: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly queueMs: number;
  readonly outputCap: number | undefined;
}

/** Creates the admission of an allowed decision; counts it in router_reservations_open until it ends. */
export function createAdmissionTicket(deps: TicketDeps, init: TicketInit): Admission {
  deps.metrics.reservationsOpen.inc();
  let finished = false;
  return {
    headers: init.headers,
    queueMs: init.queueMs,
    outputCap: init.outputCap,
    reservedCostMicros: init.reservation.costMicros,
    finish(outcome) {
      if (finished) return;
      finished = true;
      deps.track(endReservation(deps, init, outcome));
    },
  };
}

async function endReservation(deps: TicketDeps, init: TicketInit, outcome: AdmissionOutcome): Promise<void> {
  const { reservation } = init;
  try {
    if (outcome.responded) {
      const usage = settlementUsage(init.policy, init.model, outcome.backendId, outcome.usage, reservation);
      const result = await withRetries(deps, init, 'settle', () => init.store.settle(reservation, usage));
      if (result !== undefined && result.status === 'settled') {
        deps.metrics.settlementDriftMicros.observe(reservation.costMicros - usage.costMicros);
      }
    } else {
      await withRetries(deps, init, 'release', () => init.store.release(reservation));
    }
  } finally {
    deps.metrics.reservationsOpen.dec();
    deps.slotFreed(reservation.partition);
  }
}

/**
 * Releases an admission nobody will use (its request left while its retry from the queue was in flight, or
 * its QUEUE_ADMITTED event could not be appended), in the background, retried like a finished request's
 * release, then wakes the queue. Never counted in router_reservations_open (no ticket was made for it).
 */
export function releaseUnused(
  deps: TicketDeps,
  init: Pick<TicketInit, 'store' | 'shared' | 'reservation'>,
): void {
  const { reservation } = init;
  deps.track(
    withRetries(deps, init, 'release', () => init.store.release(reservation)).then(() =>
      deps.slotFreed(reservation.partition),
    ),
  );
}

/**
 * Runs a settle/release, retrying store failures after each of `retryDelaysMs` (settle and release are
 * idempotent, so a call that timed out but ran is harmless to repeat). Resolves undefined when every try
 * failed: the reservation then expires after its TTL — the slot and the money come back, and the real
 * cost of a settled request is lost (under-charged), which the log line and the counter make visible.
 */
async function withRetries<T extends SettleOutcome | ReleaseOutcome>(
  deps: TicketDeps,
  init: Pick<TicketInit, 'shared' | 'reservation'>,
  operation: 'settle' | 'release',
  call: () => Promise<T>,
): Promise<T | undefined> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      const result = await call();
      if (init.shared) deps.storeSucceeded();
      deps.metrics.countSettlement(operation, result.status);
      return result;
    } catch (error: unknown) {
      const retryDelayMs = deps.retryDelaysMs[attempt];
      if (error instanceof LimitStoreUnavailableError) {
        deps.metrics.storeFailuresTotal.inc({ operation, failure: error.failure });
        if (init.shared) deps.storeFailed(error.failure);
        if (retryDelayMs !== undefined) {
          await delay(deps.timers, retryDelayMs);
          continue;
        }
      }
      deps.metrics.countSettlement(operation, 'failed');
      deps.logger.warn(
        { err: error, operation, admissionId: init.reservation.requestId },
        'reservation could not be ended: it expires with its TTL',
      );
      return undefined;
    }
  }
}
