import type { ReferenceProblem } from './config-entries.js';
import type { ParsedConfig } from './config-schema.js';
import { MESSAGE_OVERHEAD_TOKENS, REQUEST_OVERHEAD_TOKENS } from './estimate-input-tokens.js';

/**
 * A token bucket smaller than the smallest charge of a request that sets no max_output_tokens (its default
 * output cap plus the input estimate of a one-message request) could never admit such a request: every one
 * would be refused for good. Problems are located in policies.yaml, at the tokenBurst.
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
    if (burst === undefined || burst >= smallest) continue;
    problems.push({
      path: [...path, 'limits', 'tokenBurst'],
      message:
        `must be at least ${smallest} (settings.defaultMaxOutputTokens in router.yaml plus a minimal input ` +
        `estimate): a request without max_output_tokens would never be admitted`,
    });
  }
  return problems;
}
