// A policy with limits for the admission tests, built the way the control plane builds it (YAML →
// parseConfig → compileSnapshot). Excluded from the build.
import type { PolicySnapshot } from '@api-router/contracts';
import { compileRuntimePolicy, hashSecret, type RuntimePolicy } from '@api-router/policy';
import { compileTestSnapshot, testApiKey } from '../testing/test-policy.test-support.js';

/**
 * Keys of the limits policy, all of tenant `acme` (no limits of its own) unless noted:
 * - budget: a total budget of 100 micros (0.0001 USD), fails closed.
 * - rate: 60 requests/min, burst 2.
 * - tokens: 600 tokens/min, burst 100; rate limits fail closed (half the burst, the default local share,
 *   could not hold a request without max_output_tokens: the config check refuses that).
 * - conc: `concMax` (1) requests at a time, queue of 2 waiting up to `queueWaitMs`.
 * - concNoQueue: 1 request at a time, no queue.
 * - open: 60 requests/min burst 4; rate limits fail open with a local share of 0.5.
 * - closed: 60 requests/min burst 4; rate limits fail closed.
 * - tenantBudget: key without limits of tenant `money`, whose daily budget of 1 USD fails closed.
 * - free: no limits at all.
 */
export const LIMIT_KEYS = {
  budget: 'rk_budget1',
  rate: 'rk_rate01',
  tokens: 'rk_tokens1',
  conc: 'rk_conc01',
  concNoQueue: 'rk_concnq1',
  open: 'rk_open01',
  closed: 'rk_closed1',
  tenantBudget: 'rk_money01',
  free: 'rk_free01',
} as const;

/** Prices of the policy: demo-chat 1 micro per input token and 2 per output token on every backend. */
export const DEMO_PRICE = { inputMicrosPerMillion: 1_000_000, outputMicrosPerMillion: 2_000_000 };
/** multi-chat: mock-a as demo-chat, mock-b three times dearer (reservations use mock-b's price). */
export const MULTI_PRICE_B = { inputMicrosPerMillion: 3_000_000, outputMicrosPerMillion: 6_000_000 };
/** Output tokens assumed when a request sets none. */
export const DEFAULT_MAX_OUTPUT_TOKENS = 50;

export interface LimitsPolicyOptions {
  /** Base URL (…/v1) of mock-a and mock-b. */
  readonly backendUrls?: Readonly<Record<'mock-a' | 'mock-b', string>>;
  /** Max wait of the `conc` key's queue, ms; default 2000. */
  readonly queueWaitMs?: number;
  /** maxConcurrent of the `conc` key; default 1; null: the key has no limits at all. */
  readonly concMax?: number | null;
  readonly version?: bigint;
}

function routerYaml(options: LimitsPolicyOptions): string {
  const a = options.backendUrls?.['mock-a'] ?? 'http://127.0.0.1:9/v1';
  const b = options.backendUrls?.['mock-b'] ?? 'http://127.0.0.1:9/v1';
  return `settings:
  maxBodyBytes: 65536
  defaultRequestTimeoutMs: 10000
  defaultMaxOutputTokens: ${DEFAULT_MAX_OUTPUT_TOKENS}
  reservationTtlMs: 60000
backends:
  - { id: mock-a, baseUrl: ${a}, connectTimeoutMs: 1000, firstByteTimeoutMs: 5000, maxConnections: 16 }
  - { id: mock-b, baseUrl: ${b}, connectTimeoutMs: 1000, firstByteTimeoutMs: 5000, maxConnections: 16 }
routes:
  - id: demo-chat
    model: demo-chat
    targets:
      - { backend: mock-a, weight: 1, upstreamModel: mock-model }
  - id: multi-chat
    model: multi-chat
    targets:
      - { backend: mock-a, weight: 1 }
      - { backend: mock-b, weight: 1 }
prices:
  - { model: demo-chat, inputUsdPerMillionTokens: '1', outputUsdPerMillionTokens: '2' }
  - { model: multi-chat, inputUsdPerMillionTokens: '1', outputUsdPerMillionTokens: '2' }
  - { model: multi-chat, backend: mock-b, inputUsdPerMillionTokens: '3', outputUsdPerMillionTokens: '6' }
`;
}

function policiesYaml(options: LimitsPolicyOptions): string {
  const key = (publicId: string, limits: string, tenant = 'acme'): string =>
    `  - publicId: ${publicId}
    secretSha256: ${hashSecret(testApiKey(publicId))}
    tenant: ${tenant}
    allowedModels: ['*']${limits === '' ? '' : `\n    limits: ${limits}`}`;
  const rate = 'requestsPerMinute: 60, requestBurst';
  const tokens = 'tokensPerMinute: 600, tokenBurst: 100';
  return `tenants:
  - { id: acme, displayName: Acme }
  - id: money
    displayName: Money
    limits:
      budgets: [{ id: daily, limitUsd: '1', period: day }]
apiKeys:
${key(LIMIT_KEYS.budget, "{ budgets: [{ id: total, limitUsd: '0.0001', period: total }] }")}
${key(LIMIT_KEYS.rate, `{ ${rate}: 2 }`)}
${key(LIMIT_KEYS.tokens, `{ ${tokens}, onStoreFailure: { rateLimits: fail-closed } }`)}
${key(LIMIT_KEYS.conc, options.concMax === null ? '' : `{ maxConcurrent: ${options.concMax ?? 1}, queue: { maxWaitMs: ${options.queueWaitMs ?? 2000}, maxLength: 2 } }`)}
${key(LIMIT_KEYS.concNoQueue, '{ maxConcurrent: 1 }')}
${key(LIMIT_KEYS.open, `{ ${rate}: 4, onStoreFailure: { rateLimits: fail-open, localShare: '0.5' } }`)}
${key(LIMIT_KEYS.closed, `{ ${rate}: 4, onStoreFailure: { rateLimits: fail-closed } }`)}
${key(LIMIT_KEYS.tenantBudget, '', 'money')}
${key(LIMIT_KEYS.free, '')}
`;
}

export function buildLimitsSnapshot(options: LimitsPolicyOptions = {}): PolicySnapshot {
  return compileTestSnapshot(routerYaml(options), policiesYaml(options), options.version);
}

export function buildLimitsPolicy(options: LimitsPolicyOptions = {}): RuntimePolicy {
  return compileRuntimePolicy(buildLimitsSnapshot(options));
}
