import { describe, expect, it } from 'vitest';
import { compileRuntimePolicy } from './compile-runtime-policy.js';
import { compileSnapshot } from './compile-snapshot.js';
import { ConfigInvalidError, type ConfigIssue } from './config-issue.js';
import type { ParsedConfig } from './config-schema.js';
import { MESSAGE_OVERHEAD_TOKENS, REQUEST_OVERHEAD_TOKENS } from './estimate-input-tokens.js';
import { parseConfig } from './parse-config.js';
import { planForStoreFailure } from './plan-for-store-failure.js';

// Default output cap 100: a request without max_output_tokens charges at least 107 tokens.
const SMALLEST_CHARGE = 100 + MESSAGE_OVERHEAD_TOKENS + REQUEST_OVERHEAD_TOKENS;

function parse(keyLimits: string): ParsedConfig {
  return parseConfig({
    router: { source: 'router.yaml', text: 'settings: { defaultMaxOutputTokens: 100 }\n' },
    policies: {
      source: 'policies.yaml',
      text:
        'tenants: [{ id: t }]\n' +
        `apiKeys: [{ publicId: rk_abcd, secretSha256: "${'0'.repeat(64)}", tenant: t, allowedModels: ["*"], ` +
        `limits: ${keyLimits} }]\n`,
    },
  });
}

function issuesOf(keyLimits: string): ConfigIssue[] {
  try {
    parse(keyLimits);
  } catch (error: unknown) {
    if (error instanceof ConfigInvalidError) return [...error.issues];
    throw error;
  }
  return [];
}

/** The token burst a replica enforces alone for the key while Redis is unreachable. */
function localTokenBurst(config: ParsedConfig): number | undefined {
  const snapshot = compileSnapshot(config, { version: 1n, sourceRevision: 'test', createdAt: new Date(0) });
  const policy = compileRuntimePolicy(snapshot);
  const plan = planForStoreFailure({
    tenant: { id: 't', limits: policy.limitsForTenant('t') },
    key: { publicId: 'rk_abcd', limits: policy.limitsForKey('rk_abcd') },
  });
  if (plan.kind !== 'local') return undefined;
  const tokens = plan.plan.checks.find((check) => check.kind === 'tokens');
  return tokens?.kind === 'tokens' ? tokens.burst : undefined;
}

describe('checkTokenBursts', () => {
  it('refuses a burst whose fail-open local share cannot hold a request without max_output_tokens', () => {
    // 200 ≥ 107 passes the shared bucket, but a replica alone enforces 200 × 0.5 = 100 < 107.
    expect(
      issuesOf('{ tokensPerMinute: 1000, tokenBurst: 200, onStoreFailure: { localShare: 0.5 } }'),
    ).toEqual([
      {
        source: 'policies.yaml',
        path: 'apiKeys[0].limits.tokenBurst',
        line: 2,
        message: expect.stringContaining(
          'must be at least 214 with onStoreFailure.localShare 0.5: while Redis is unreachable each replica ' +
            `enforces tokenBurst × localShare = 100 tokens, less than the ${SMALLEST_CHARGE}`,
        ) as string,
      },
    ]);
    // The default local share (0.5) too.
    expect(issuesOf('{ tokensPerMinute: 1000, tokenBurst: 213 }')).toHaveLength(1);
  });

  it('accepts the smallest burst whose local share holds the request, and fail-closed rate limits', () => {
    const config = parse('{ tokensPerMinute: 1000, tokenBurst: 214, onStoreFailure: { localShare: 0.5 } }');
    expect(localTokenBurst(config)).toBe(SMALLEST_CHARGE);
    expect(
      issuesOf('{ tokensPerMinute: 1000, tokenBurst: 321, onStoreFailure: { localShare: "0.334" } }'),
    ).toEqual([]);
    // Failing closed, nothing is admitted locally: the whole burst is what counts.
    expect(
      issuesOf(
        `{ tokensPerMinute: 1000, tokenBurst: ${SMALLEST_CHARGE}, onStoreFailure: { rateLimits: fail-closed } }`,
      ),
    ).toEqual([]);
  });

  it('reports a burst too small even for the shared bucket once, without the local share', () => {
    expect(issuesOf('{ tokensPerMinute: 1000, tokenBurst: 106 }')).toEqual([
      expect.objectContaining({
        path: 'apiKeys[0].limits.tokenBurst',
        message: expect.stringMatching(/^must be at least 107 \(settings.defaultMaxOutputTokens/) as string,
      }) as ConfigIssue,
    ]);
  });
});
