import { create } from '@bufbuild/protobuf';
import type { BudgetFailureMode, RateLimitFailureMode } from '@api-router/contracts';
import {
  BudgetPeriod,
  ModelPriceSchema,
  QueuePolicySchema,
  type LimitSet,
  type PolicySnapshot,
} from '@api-router/contracts';
import { describe, expect, it } from 'vitest';
import { compileRuntimePolicy } from './compile-runtime-policy.js';
import { compileSnapshot } from './compile-snapshot.js';
import { budget } from './limit-set.test-support.js';
import { parseConfig } from './parse-config.js';
import { rejectionReason, resealedCopy } from './resealed-snapshot.test-support.js';

// Limits, budgets and prices on the data plane side: lookups and validation of what the snapshot carries.

const ROUTER_YAML = `
backends:
  - { id: mock-a, baseUrl: "http://127.0.0.1:9101/v1" }
  - { id: mock-b, baseUrl: "http://127.0.0.1:9102/v1" }
routes:
  - id: chat
    model: chat
    targets: [{ backend: mock-a }, { backend: mock-b }]
  - id: cheap
    model: cheap
    targets: [{ backend: mock-a }]
prices:
  - { model: chat, inputUsdPerMillionTokens: "0.50", outputUsdPerMillionTokens: "1.50" }
  - { model: chat, backend: mock-b, inputUsdPerMillionTokens: 3, outputUsdPerMillionTokens: 15 }
  - { model: cheap, backend: mock-a, inputUsdPerMillionTokens: "0.01", outputUsdPerMillionTokens: "0.02" }
`;
const POLICIES_YAML = `
tenants:
  - id: demo
    limits: { budgets: [{ id: daily, limitUsd: "5.00", period: day }] }
  - id: free
apiKeys:
  - publicId: rk_demo01
    secretSha256: ${'ab'.repeat(32)}
    tenant: demo
    allowedModels: ["*"]
    limits: { requestsPerMinute: 600, requestBurst: 60, queue: { maxWaitMs: 2000, maxLength: 32 } }
  - { publicId: rk_free01, secretSha256: ${'cd'.repeat(32)}, tenant: free, allowedModels: ["*"] }
`;

function validSnapshot(): PolicySnapshot {
  const config = parseConfig({
    router: { source: 'router.yaml', text: ROUTER_YAML },
    policies: { source: 'policies.yaml', text: POLICIES_YAML },
  });
  return compileSnapshot(config, { version: 1n, sourceRevision: 'file:test', createdAt: new Date(0) });
}

function resealed(change: (snapshot: PolicySnapshot) => void): PolicySnapshot {
  return resealedCopy(validSnapshot(), change);
}

const demoKeyLimits = (s: PolicySnapshot): LimitSet => s.apiKeys[0]!.limits!;

describe('compileRuntimePolicy: limits and prices', () => {
  it('looks up limits by tenant and by key', () => {
    const policy = compileRuntimePolicy(validSnapshot());
    expect(policy.limitsForTenant('demo')?.budgets.map((b) => [b.id, b.limitMicros])).toEqual([
      ['daily', 5_000_000n],
    ]);
    expect(policy.limitsForKey('rk_demo01')).toMatchObject({ requestsPerMinute: 600, requestBurst: 60 });
    expect(policy.limitsForTenant('free')).toBeUndefined();
    expect(policy.limitsForKey('rk_free01')).toBeUndefined();
    expect(policy.limitsForTenant('nope')).toBeUndefined();
    expect(policy.limitsForKey('rk_nope')).toBeUndefined();
  });

  it('prices a request by its backend first, then by its model', () => {
    const policy = compileRuntimePolicy(validSnapshot());
    const half = { inputMicrosPerMillion: 500_000, outputMicrosPerMillion: 1_500_000 };
    expect(policy.priceFor('chat', 'mock-a')).toEqual(half);
    expect(policy.priceFor('chat', 'mock-b')).toEqual({
      inputMicrosPerMillion: 3_000_000,
      outputMicrosPerMillion: 15_000_000,
    });
    expect(policy.priceFor('chat')).toEqual(half);
    expect(policy.priceFor('cheap', 'mock-a')).toEqual({
      inputMicrosPerMillion: 10_000,
      outputMicrosPerMillion: 20_000,
    });
    // A backend-specific price never applies to another backend, nor without a backend.
    expect(policy.priceFor('cheap', 'mock-b')).toBeUndefined();
    expect(policy.priceFor('cheap')).toBeUndefined();
    expect(policy.priceFor('unknown', 'mock-a')).toBeUndefined();
  });

  it('exposes the limit settings, reading 0 (a snapshot from before them) as the defaults', () => {
    expect(compileRuntimePolicy(validSnapshot()).settings).toMatchObject({
      defaultMaxOutputTokens: 1024,
      reservationTtlMs: 120_000,
    });
    const older = resealed((s) => {
      s.settings!.defaultMaxOutputTokens = 0;
      s.settings!.reservationTtlMs = 0;
    });
    expect(compileRuntimePolicy(older).settings).toMatchObject({
      defaultMaxOutputTokens: 1024,
      reservationTtlMs: 120_000,
    });
  });

  it.each<[string, (snapshot: PolicySnapshot) => void, RegExp]>([
    [
      'a rate without burst',
      (s) => (demoKeyLimits(s).requestBurst = 0),
      /rk_demo01: limits: request_burst must be at least 1/,
    ],
    [
      'a burst without rate',
      (s) => (demoKeyLimits(s).tokenBurst = 5),
      /token_burst is set without tokens_per_minute/,
    ],
    [
      'too much concurrency',
      (s) => (demoKeyLimits(s).maxConcurrent = 2_000_000),
      /max_concurrent must be at most/,
    ],
    [
      'a half-set queue',
      (s) => (demoKeyLimits(s).queue = create(QueuePolicySchema, { maxWaitMs: 10 })),
      /queue.max_wait_ms and queue.max_length must both be 0 or both above 0/,
    ],
    [
      'a duplicate budget',
      (s) => s.tenants[0]!.limits!.budgets.push(budget('daily', 1n)),
      /tenant demo: limits: duplicate budget id "daily"/,
    ],
    ['an empty budget id', (s) => (s.tenants[0]!.limits!.budgets[0]!.id = ''), /empty budget id/],
    [
      'an unspecified budget period',
      (s) => (s.tenants[0]!.limits!.budgets[0]!.period = BudgetPeriod.UNSPECIFIED),
      /budget daily: unknown period 0/,
    ],
    [
      'a budget above the store maximum',
      (s) => (s.tenants[0]!.limits!.budgets[0]!.limitMicros = 10n ** 15n + 1n),
      /limit_micros must be at most 1000000000000000/,
    ],
    [
      'an unknown rate failure mode',
      (s) => (s.tenants[0]!.limits!.onStoreFailure!.rateLimits = 7 as RateLimitFailureMode),
      /on_store_failure.rate_limits: unknown mode 7/,
    ],
    [
      'an unknown budget failure mode',
      (s) => (s.tenants[0]!.limits!.onStoreFailure!.budgets = 9 as BudgetFailureMode),
      /on_store_failure.budgets: unknown mode 9/,
    ],
    [
      'a local share above one',
      (s) => (s.tenants[0]!.limits!.onStoreFailure!.localSharePpm = 1_000_001),
      /local_share_ppm must be at most 1000000/,
    ],
    [
      'a price of an unknown backend',
      (s) => (s.prices[1]!.backendId = 'mock-z'),
      /price of chat on mock-z: unknown backend "mock-z"/,
    ],
    [
      'a duplicate price',
      (s) => s.prices.push(create(ModelPriceSchema, { model: 'chat', backendId: 'mock-b' })),
      /duplicate price of chat on mock-b/,
    ],
    [
      'a duplicate model-wide price',
      (s) => s.prices.push(create(ModelPriceSchema, { model: 'chat' })),
      /duplicate price of chat$/,
    ],
    ['a price without model', (s) => (s.prices[0]!.model = ''), /price with an empty model/],
    [
      'a price above the maximum',
      (s) => (s.prices[0]!.inputMicrosPerMillionTokens = 10n ** 12n + 1n),
      /price of chat: above 1000000000000 micros per million tokens/,
    ],
    [
      'a reservation TTL above a day',
      (s) => (s.settings!.reservationTtlMs = 86_400_001),
      /reservation_ttl_ms must be at most 86400000/,
    ],
  ])('rejects %s', (_name, change, reason) => {
    expect(rejectionReason(resealed(change))).toMatch(reason);
  });
});
