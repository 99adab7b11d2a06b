// Bounds and defaults of the limit policy, shared by the config schema (control plane) and the snapshot
// validation (data plane), so that both accept exactly the same values.

/** Largest budget limit: 10^15 micros (1e9 USD), the limiter stores' MAX_MICROS, far below 2^53. */
export const MAX_BUDGET_MICROS = 1_000_000_000_000_000;
/** Largest price: 10^12 micros (1e6 USD) per million tokens. */
export const MAX_PRICE_MICROS_PER_MILLION = 1_000_000_000_000;
/** Most requests in flight per owner, as the limiter stores accept. */
export const MAX_CONCURRENT = 1_000_000;
/** Parts per million of a whole (a local share of 1). */
export const PPM_PER_WHOLE = 1_000_000;
/** Local share of a fail-open rate limit when none is configured: half of each limit per replica. */
export const DEFAULT_LOCAL_SHARE_PPM = 500_000;
/** Output tokens assumed for a request that sets no max_output_tokens. */
export const DEFAULT_MAX_OUTPUT_TOKENS = 1024;
/** Expiry of an unsettled reservation (crashed replica), in milliseconds. */
export const DEFAULT_RESERVATION_TTL_MS = 120_000;
/**
 * How much longer than the longest request deadline settings.reservationTtlMs must be, in milliseconds. A
 * reservation must outlive its settlement, not only its request: a deadline counts from the request's
 * arrival and the reservation's expiry from its admission (later: after auth and any fair-queue wait, which
 * counts against the deadline), but the settlement only starts once the request has ended — after the
 * deadline fired — and is one store round trip of up to DP_LIMITS_TIMEOUT_MS (250 ms by default, 1 s at
 * most), retried after 100 ms, 500 ms and 2 s when the store fails (about 3.6 s in all at the default
 * timeout, 6.6 s at the longest; the data plane refuses a longer DP_LIMITS_TIMEOUT_MS). The expiry
 * is reckoned by Redis TIME and the deadline by the data plane's clock, which differ by their skew (more
 * after a failover to a Redis host whose clock runs ahead). A reservation that expired just before its
 * settlement has freed budget room that another request may take, and the settlement charges anyway: the
 * budget overshoots. 10 s covers the settlement with its retries and a few seconds of skew.
 */
export const RESERVATION_SETTLEMENT_MARGIN_MS = 10_000;
/** Longest reservation TTL the limiter stores accept (one day), in milliseconds. */
export const MAX_RESERVATION_TTL_MS = 86_400_000;
