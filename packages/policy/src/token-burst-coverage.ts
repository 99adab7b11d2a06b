import type { ReferenceProblem } from './config-entries.js';
import type { ParsedConfig } from './config-schema.js';
import { MESSAGE_OVERHEAD_TOKENS, REQUEST_OVERHEAD_TOKENS } from './estimate-input-tokens.js';
import { PPM_PER_WHOLE } from './limit-bounds.js';
import type { LimitSetConfig } from './limits-config-schema.js';
import { localShareOf } from './plan-for-store-failure.js';

/**
 * A token bucket smaller than the smallest charge of a request that sets no max_output_tokens (its default
 * output cap plus the input estimate of a one-message request) could never admit such a request: every one
 * would be refused for good. While Redis is unreachable, an owner whose rate limits fail open admits
 * against a bucket of only its local share of the burst (planForStoreFailure), so that scaled burst must
 * hold the same request, or such requests could never be admitted during an outage. Problems are located in
 * policies.yaml, at the tokenBurst.
 */
export function checkTokenBursts(config: ParsedConfig): ReferenceProblem[] {
  const smallest =
    config.router.settings.defaultMaxOutputTokens + MESSAGE_OVERHEAD_TOKENS + REQUEST_OVERHEAD_TOKENS;
  const problems: ReferenceProblem[] = [];
  const owners = [
    ...config.policies.tenants.map((tenant, index) => ({ path: ['tenants', index], limits: tenant.limits })),
    ...config.policies.apiKeys.map((key, index) => ({ path: ['apiKeys', index], limits: key.limits })),
  ];
  for (const { path, limits } of owners) {
    const burst = limits?.tokenBurst;
    if (limits === undefined || burst === undefined) continue;
    const message =
      burst < smallest
        ? `must be at least ${smallest} (settings.defaultMaxOutputTokens in router.yaml plus a minimal input ` +
          `estimate): a request without max_output_tokens would never be admitted`
        : localShareProblem(burst, limits, smallest);
    if (message !== undefined) problems.push({ path: [...path, 'limits', 'tokenBurst'], message });
  }
  return problems;
}

/** The problem of a fail-open owner whose local share of `burst` is below `smallest`, if any. */
function localShareProblem(burst: number, limits: LimitSetConfig, smallest: number): string | undefined {
  const { rateLimits, localSharePpm } = limits.onStoreFailure;
  if (rateLimits !== 'fail-open' || localShareOf(burst, localSharePpm) >= smallest) return undefined;
  // The smallest burst whose share floor(burst × ppm / 10^6) reaches `smallest`.
  const needed = Math.ceil((smallest * PPM_PER_WHOLE) / localSharePpm);
  const share = localSharePpm / PPM_PER_WHOLE;
  return (
    `must be at least ${needed} with onStoreFailure.localShare ${share}: while Redis is unreachable each ` +
    `replica enforces tokenBurst × localShare = ${localShareOf(burst, localSharePpm)} tokens, less than the ` +
    `${smallest} of a request without max_output_tokens (settings.defaultMaxOutputTokens in router.yaml ` +
    `plus a minimal input estimate), which would never be admitted; raise tokenBurst or localShare, or set ` +
    `onStoreFailure.rateLimits: fail-closed`
  );
}
