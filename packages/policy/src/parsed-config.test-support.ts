// fast-check arbitraries and helpers shared by the policy package's tests (excluded from the build).
import fc from 'fast-check';
import type { ApiKeyConfig, BackendConfig, ParsedConfig, RouteConfig } from './config-schema.js';
import { RESERVATION_SETTLEMENT_MARGIN_MS } from './limit-bounds.js';
import type { LimitSetConfig, PriceConfig } from './limits-config-schema.js';

// fc.stringMatching is slow enough to dominate the properties' run time; ids built from a few prefixes and a
// number still exercise code-unit ordering ("b10" < "b9", "z-1" > "z1"...).
const idArbitrary = fc
  .tuple(fc.constantFrom('a', 'b', 'z', 'z-', 'm.'), fc.nat(120))
  .map(([prefix, number]) => `${prefix}${number}`);
const sha256HexArbitrary = fc
  .uint8Array({ minLength: 32, maxLength: 32 })
  .map((bytes) => Buffer.from(bytes).toString('hex'));

function backendArbitrary(id: string, index: number): fc.Arbitrary<BackendConfig> {
  return fc.record({
    id: fc.constant(id),
    baseUrl: fc.constant(`http://10.0.${Math.floor(index / 250)}.${index % 250}:8000/v1`),
    provider: fc.constant('openai-compatible' as const),
    enabled: fc.boolean(),
    connectTimeoutMs: fc.integer({ min: 1, max: 10_000 }),
    firstByteTimeoutMs: fc.integer({ min: 1, max: 100_000 }),
    maxConnections: fc.integer({ min: 1, max: 1000 }),
    credentialRef: fc.option(fc.constant(`env:KEY_${index}`), { nil: undefined }),
    healthPath: fc.constantFrom('/health', '/healthz'),
    outputLimitParam: fc.constantFrom('max_tokens' as const, 'max_completion_tokens' as const),
  });
}

function routeArbitrary(id: string, backendIds: readonly string[]): fc.Arbitrary<RouteConfig> {
  const targets = fc.shuffledSubarray([...backendIds], { minLength: 1 }).chain((chosen) =>
    fc.tuple(
      ...chosen.map((backend, index) =>
        fc.record({
          backend: fc.constant(backend),
          // The first target keeps a positive weight so that the route is valid.
          weight: index === 0 ? fc.integer({ min: 1, max: 100 }) : fc.integer({ min: 0, max: 100 }),
          priority: fc.integer({ min: 0, max: 2 }),
          upstreamModel: fc.option(fc.constantFrom('upstream-a', 'upstream-b'), { nil: undefined }),
        }),
      ),
    ),
  );
  return fc.record({
    id: fc.constant(id),
    model: fc.constant(`model-${id}`),
    maxAttempts: fc.integer({ min: 1, max: 5 }),
    requestTimeoutMs: fc.integer({ min: 0, max: 60_000 }),
    targets,
  });
}

/** A rate with its burst, or neither. */
const rateArbitrary = fc.option(
  fc.tuple(fc.integer({ min: 1, max: 1_000_000 }), fc.integer({ min: 1, max: 100_000 })),
  { nil: undefined },
);

/** Valid `limits:` blocks (or none), budget ids unique; some limit nothing but a failure policy. */
export const limitSetArbitrary: fc.Arbitrary<LimitSetConfig | undefined> = fc.option(
  fc
    .record({
      requests: rateArbitrary,
      tokens: rateArbitrary,
      maxConcurrent: fc.option(fc.integer({ min: 1, max: 1000 }), { nil: undefined }),
      queue: fc.option(
        fc.oneof(
          fc.constant({ maxWaitMs: 0, maxLength: 0 }),
          fc.record({
            maxWaitMs: fc.integer({ min: 1, max: 60_000 }),
            maxLength: fc.integer({ min: 1, max: 100 }),
          }),
        ),
        { nil: undefined },
      ),
      budgets: fc.uniqueArray(
        fc.record({
          id: idArbitrary,
          limitMicros: fc.integer({ min: 0, max: 1e12 }),
          period: fc.constantFrom('day' as const, 'month' as const, 'total' as const),
        }),
        { maxLength: 3, selector: (budget) => budget.id },
      ),
      onStoreFailure: fc.oneof(
        fc.record({
          rateLimits: fc.constant('fail-open' as const),
          localSharePpm: fc.integer({ min: 1, max: 1_000_000 }),
          budgets: fc.constantFrom('fail-open' as const, 'fail-closed' as const),
        }),
        fc.record({
          rateLimits: fc.constant('fail-closed' as const),
          localSharePpm: fc.constant(0),
          budgets: fc.constantFrom('fail-open' as const, 'fail-closed' as const),
        }),
      ),
    })
    .map(({ requests, tokens, ...rest }) => ({
      ...rest,
      requestsPerMinute: requests?.[0],
      requestBurst: requests?.[1],
      tokensPerMinute: tokens?.[0],
      tokenBurst: tokens?.[1],
    })),
  { nil: undefined },
);

/** Prices unique per (model, backend), naming existing models and backends. */
function pricesArbitrary(
  models: readonly string[],
  backendIds: readonly string[],
): fc.Arbitrary<PriceConfig[]> {
  if (models.length === 0) return fc.constant([]);
  return fc.uniqueArray(
    fc.record({
      model: fc.constantFrom(...models),
      backend: fc.option(fc.constantFrom(...backendIds), { nil: undefined }),
      inputMicrosPerMillionTokens: fc.integer({ min: 0, max: 1e12 }),
      outputMicrosPerMillionTokens: fc.integer({ min: 0, max: 1e12 }),
    }),
    { maxLength: 6, selector: (price) => `${price.model}\u0000${price.backend ?? ''}` },
  );
}

function apiKeyArbitrary(publicId: string, tenantIds: readonly string[], models: readonly string[]) {
  return fc.record({
    publicId: fc.constant(publicId),
    secretSha256: sha256HexArbitrary,
    tenant: fc.constantFrom(...tenantIds),
    allowedModels: fc.oneof(fc.constant<string[]>(['*']), fc.subarray([...models])),
    disabled: fc.boolean(),
    expiresAt: fc.option(
      fc.integer({ min: 0, max: 4_000_000_000 }).map((seconds) => new Date(seconds * 1000)),
      { nil: undefined },
    ),
    limits: limitSetArbitrary,
    signingSecretRefs: fc.subarray(['env:SIGNING_CURRENT', 'file:/run/secrets/signing-next']),
  }) satisfies fc.Arbitrary<ApiKeyConfig>;
}

/** Valid parsed configs: unique ids, references that resolve, a positive weight in every route. */
export const parsedConfigArbitrary: fc.Arbitrary<ParsedConfig> = fc
  .record({
    backendIds: fc.uniqueArray(idArbitrary, { minLength: 1, maxLength: 5 }),
    routeIds: fc.uniqueArray(idArbitrary, { maxLength: 4 }),
    tenantIds: fc.uniqueArray(idArbitrary, { minLength: 1, maxLength: 4 }),
    keyIds: fc.uniqueArray(
      fc.nat(99_999).map((number) => `k${number}`.padEnd(4, '0')),
      { maxLength: 6 },
    ),
  })
  .chain(({ backendIds, routeIds, tenantIds, keyIds }) =>
    fc.record({
      router: fc.record({
        settings: fc.record({
          maxBodyBytes: fc.integer({ min: 1, max: 10_000_000 }),
          defaultRequestTimeoutMs: fc.integer({ min: 1, max: 600_000 }),
          defaultMaxOutputTokens: fc.integer({ min: 1, max: 100_000 }),
          // Longer than the longest deadline (600 s) plus the settlement margin, as checkReservationTtl wants.
          reservationTtlMs: fc.integer({ min: 600_000 + RESERVATION_SETTLEMENT_MARGIN_MS, max: 86_400_000 }),
        }),
        backends: fc.tuple(...backendIds.map((id, index) => backendArbitrary(id, index))),
        routes: fc.tuple(...routeIds.map((id) => routeArbitrary(id, backendIds))),
        prices: pricesArbitrary(
          routeIds.map((route) => `model-${route}`),
          backendIds,
        ),
        admin: fc.constant({ tokens: [] }),
      }),
      policies: fc.record({
        tenants: fc.tuple(
          ...tenantIds.map((id) =>
            fc.record({
              id: fc.constant(id),
              displayName: fc.string({ maxLength: 20 }),
              disabled: fc.boolean(),
              limits: limitSetArbitrary,
            }),
          ),
        ),
        apiKeys: fc.tuple(
          ...keyIds.map((id) =>
            apiKeyArbitrary(
              `rk_${id}`,
              tenantIds,
              routeIds.map((route) => `model-${route}`),
            ),
          ),
        ),
      }),
    }),
  );

/** Deterministic pseudo-random permutation (mulberry32), so a property can reorder by a generated seed. */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4_294_967_296;
  };
  const result = [...items];
  for (let index = result.length - 1; index > 0; index -= 1) {
    const other = Math.floor(next() * (index + 1));
    [result[index], result[other]] = [result[other]!, result[index]!];
  }
  return result;
}

/** The same config with every list (and every route's targets and every key's models) reordered. */
export function reorderConfig(config: ParsedConfig, seed: number): ParsedConfig {
  return {
    router: {
      ...config.router,
      backends: shuffled(config.router.backends, seed),
      routes: shuffled(
        config.router.routes.map((route, index) => ({
          ...route,
          targets: shuffled(route.targets, seed + index),
        })),
        seed + 1,
      ),
      prices: shuffled(config.router.prices, seed + 4),
    },
    policies: {
      tenants: shuffled(
        config.policies.tenants.map((tenant, index) => ({
          ...tenant,
          limits: reorderLimits(tenant.limits, seed + index),
        })),
        seed + 2,
      ),
      apiKeys: shuffled(
        config.policies.apiKeys.map((key, index) => ({
          ...key,
          allowedModels: shuffled(key.allowedModels, seed + index),
          limits: reorderLimits(key.limits, seed + index),
        })),
        seed + 3,
      ),
    },
  };
}

function reorderLimits(limits: LimitSetConfig | undefined, seed: number): LimitSetConfig | undefined {
  return limits === undefined ? undefined : { ...limits, budgets: shuffled(limits.budgets, seed) };
}
