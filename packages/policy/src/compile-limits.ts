import { create } from '@bufbuild/protobuf';
import {
  BudgetFailureMode,
  BudgetPeriod,
  BudgetSchema,
  LimitSetSchema,
  ModelPriceSchema,
  QueuePolicySchema,
  RateLimitFailureMode,
  StoreFailurePolicySchema,
  type LimitSet,
  type ModelPrice,
} from '@api-router/contracts';
import { compareStrings } from './compare-strings.js';
import type { BudgetConfig, LimitSetConfig, PriceConfig } from './limits-config-schema.js';

const PERIODS: Readonly<Record<BudgetConfig['period'], BudgetPeriod>> = {
  day: BudgetPeriod.DAY,
  month: BudgetPeriod.MONTH,
  total: BudgetPeriod.TOTAL,
};

/**
 * The snapshot form of a `limits:` block, or undefined when it limits nothing (absent, or only a failure
 * policy), so that a key without limits has the same content whether or not it spells out an empty block.
 * Budgets are sorted by id; the failure policy is always explicit (never UNSPECIFIED).
 */
export function compileLimitSet(limits: LimitSetConfig | undefined): LimitSet | undefined {
  if (limits === undefined || !limitsSomething(limits)) return undefined;
  const failure = limits.onStoreFailure;
  return create(LimitSetSchema, {
    requestsPerMinute: limits.requestsPerMinute ?? 0,
    requestBurst: limits.requestsPerMinute === undefined ? 0 : (limits.requestBurst ?? 0),
    tokensPerMinute: limits.tokensPerMinute ?? 0,
    tokenBurst: limits.tokensPerMinute === undefined ? 0 : (limits.tokenBurst ?? 0),
    maxConcurrent: limits.maxConcurrent ?? 0,
    queue:
      limits.queue === undefined
        ? undefined
        : create(QueuePolicySchema, { maxWaitMs: limits.queue.maxWaitMs, maxLength: limits.queue.maxLength }),
    budgets: [...limits.budgets]
      .sort((a, b) => compareStrings(a.id, b.id))
      .map((budget) =>
        create(BudgetSchema, {
          id: budget.id,
          limitMicros: BigInt(budget.limitMicros),
          period: PERIODS[budget.period],
        }),
      ),
    onStoreFailure: create(StoreFailurePolicySchema, {
      rateLimits:
        failure.rateLimits === 'fail-closed'
          ? RateLimitFailureMode.FAIL_CLOSED
          : RateLimitFailureMode.FAIL_OPEN_LOCAL_SHARE,
      localSharePpm: failure.localSharePpm,
      budgets: failure.budgets === 'fail-open' ? BudgetFailureMode.FAIL_OPEN : BudgetFailureMode.FAIL_CLOSED,
    }),
  });
}

/** The price table, sorted by model then backend (a model-wide price before backend-specific ones). */
export function compilePrices(prices: readonly PriceConfig[]): ModelPrice[] {
  return [...prices]
    .sort((a, b) => compareStrings(a.model, b.model) || compareStrings(a.backend ?? '', b.backend ?? ''))
    .map((price) =>
      create(ModelPriceSchema, {
        model: price.model,
        backendId: price.backend ?? '',
        inputMicrosPerMillionTokens: BigInt(price.inputMicrosPerMillionTokens),
        outputMicrosPerMillionTokens: BigInt(price.outputMicrosPerMillionTokens),
      }),
    );
}

function limitsSomething(limits: LimitSetConfig): boolean {
  return (
    limits.requestsPerMinute !== undefined ||
    limits.tokensPerMinute !== undefined ||
    limits.maxConcurrent !== undefined ||
    limits.queue !== undefined ||
    limits.budgets.length > 0
  );
}
