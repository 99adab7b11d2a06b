/**
 * Key prefix of the Redis limit store that every data plane and the control plane use by default. The
 * control plane's budget administration reads and changes the same keys the data planes admit against, so
 * both sides must agree on it: import this constant rather than spelling the prefix out.
 */
export const DEFAULT_LIMITS_KEY_PREFIX = 'router:limits:';
