import type { ApiKey, Backend, LimitSet, PolicySnapshot, Route, Tenant } from '@api-router/contracts';
import type { TokenPrice } from './price-table.js';

/**
 * A validated snapshot in the form the data plane's hot path uses: maps keyed the way requests look things
 * up. Immutable by contract: it shares the snapshot's messages, and a new policy is swapped in whole.
 */
export interface RuntimePolicy {
  readonly version: bigint;
  readonly contentHash: string;
  /** The snapshot's created_at; the Unix epoch when unset. */
  readonly createdAt: Date;
  /** The wire form, kept for re-persisting to the disk cache. */
  readonly snapshot: PolicySnapshot;
  readonly settings: {
    readonly maxBodyBytes: number;
    readonly defaultRequestTimeoutMs: number;
    /** Output tokens assumed for a request without max_output_tokens (reservation and token estimate). */
    readonly defaultMaxOutputTokens: number;
    /** Expiry of unsettled reservations and concurrency slots, in milliseconds (AdmitRequest.reservationTtlMs). */
    readonly reservationTtlMs: number;
  };
  /** Routes by the public model name clients ask for. */
  readonly routesByModel: ReadonlyMap<string, RuntimeRoute>;
  readonly backendsById: ReadonlyMap<string, Backend>;
  readonly tenantsById: ReadonlyMap<string, Tenant>;
  readonly apiKeysByPublicId: ReadonlyMap<string, ApiKey>;
  /** The tenant's own limits; undefined for an unknown tenant or one without limits. */
  limitsForTenant(tenantId: string): LimitSet | undefined;
  /** The key's own limits (not its tenant's); undefined for an unknown key or one without limits. */
  limitsForKey(publicId: string): LimitSet | undefined;
  /**
   * Price of public model `model` served by `backendId`: the backend-specific entry if any, else the
   * model-wide one; undefined when the model has no price (the config refuses that when budgets exist).
   */
  priceFor(model: string, backendId?: string): TokenPrice | undefined;
}

/** A route with its targets resolved to backends, ordered by priority (lowest number first). */
export interface RuntimeRoute {
  readonly route: Route;
  readonly targets: readonly RuntimeTarget[];
}

export interface RuntimeTarget {
  readonly backend: Backend;
  /** Relative share among targets of the same priority; 0 never receives traffic. */
  readonly weight: number;
  /** Lower is preferred. */
  readonly priority: number;
  /** Model name to send upstream: the target's upstream_model, or the route's model when that is empty. */
  readonly upstreamModel: string;
}
