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
/** Longest reservation TTL the limiter stores accept (one day), in milliseconds. */
export const MAX_RESERVATION_TTL_MS = 86_400_000;
