/** Capped exponential backoff: attempt n waits `initialDelayMs · multiplier^(n−1)`, at most `maxDelayMs`, minus up to `jitter` of it. */
export interface BackoffPolicy {
  /** Delay after the first failure, in ms (default 100). */
  initialDelayMs: number;
  /** Cap, in ms (default 30 000). */
  maxDelayMs: number;
  /** Growth per failure (default 2). */
  multiplier: number;
  /** Fraction of the delay randomly taken off, 0…1 (default 0.2), so replicas do not retry in lockstep. */
  jitter: number;
}

export const DEFAULT_BACKOFF_POLICY: Readonly<BackoffPolicy> = {
  initialDelayMs: 100,
  maxDelayMs: 30_000,
  multiplier: 2,
  jitter: 0.2,
};

/** Delay before retry number `attempt` (1 = after the first failure), in ms; `random` returns [0, 1). */
export function backoffDelayMs(attempt: number, policy: BackoffPolicy, random: () => number): number {
  const exponent = Math.max(0, attempt - 1);
  const raw = Math.min(policy.maxDelayMs, policy.initialDelayMs * Math.pow(policy.multiplier, exponent));
  return Math.max(0, Math.round(raw * (1 - policy.jitter * random())));
}
