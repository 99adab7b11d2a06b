import { z } from 'zod';
import { ID_PATTERN, MODEL_PATTERN } from './config-patterns.js';
import { decimalToMicros } from './decimal-micros.js';
import {
  DEFAULT_LOCAL_SHARE_PPM,
  MAX_BUDGET_MICROS,
  MAX_CONCURRENT,
  MAX_PRICE_MICROS_PER_MILLION,
  PPM_PER_WHOLE,
} from './limit-bounds.js';

// Schemas of the limit policy in the config documents: `limits:` of tenants and API keys (policies.yaml)
// and `prices:` (router.yaml). Money is written as decimal USD and converted exactly to integer micros here,
// so the parsed config (and the snapshot) only ever holds integers.

const UINT32_MAX = 4_294_967_295;
const id = z.string().regex(ID_PATTERN, `must match ${String(ID_PATTERN)}`);

/** A decimal amount (text or number) converted to integer micros, at most `maxMicros`. */
function decimalMicros(maxMicros: number, example: string) {
  return (
    z
      // z.number() refuses NaN: accept it here so that YAML's .nan gets the precise message.
      .union([z.string(), z.number(), z.nan()], { error: `must be a decimal amount, e.g. ${example}` })
      .transform((value, context) => {
        const result = decimalToMicros(value, maxMicros);
        if (result.ok) return result.micros;
        context.addIssue({ code: 'custom', message: result.problem });
        return z.NEVER;
      })
  );
}

const rate = z.number().int().min(1).max(UINT32_MAX);
const burst = z.number().int().min(0).max(UINT32_MAX);
const uint32 = z.number().int().min(0).max(UINT32_MAX);

export const BudgetConfigSchema = z
  .strictObject({
    /** Unique per owner (tenant or key). */
    id,
    /** Limit per period in USD, e.g. "5.00"; converted to micros. */
    limitUsd: decimalMicros(MAX_BUDGET_MICROS, '"5.00"'),
    period: z.enum(['day', 'month', 'total']),
  })
  .transform(({ id, limitUsd, period }) => ({ id, limitMicros: limitUsd, period }));

export const QueueConfigSchema = z.strictObject({
  /** Longest wait for a concurrency slot, in milliseconds; 0 = no queueing (reject at once). */
  maxWaitMs: uint32,
  /** Most waiting requests of the owner; 0 = no queueing. */
  maxLength: uint32,
});

const StoreFailureConfigSchema = z
  .strictObject({
    /** Rate limits while Redis is unavailable. Default fail-open (local share). */
    rateLimits: z.enum(['fail-open', 'fail-closed']).default('fail-open'),
    /** Share (0 < share <= 1) of each rate limit a replica enforces alone when failing open. Default 0.5. */
    localShare: decimalMicros(PPM_PER_WHOLE, '0.5').optional(),
    /** Budgets while Redis is unavailable. Default fail-closed: money never fails open unless told to. */
    budgets: z.enum(['fail-closed', 'fail-open']).default('fail-closed'),
  })
  .superRefine((value, context) => {
    if (value.localShare === undefined) return;
    if (value.rateLimits === 'fail-closed') {
      context.addIssue({
        code: 'custom',
        path: ['localShare'],
        message: 'localShare only applies when rateLimits is fail-open',
      });
    } else if (value.localShare === 0) {
      context.addIssue({
        code: 'custom',
        path: ['localShare'],
        message: 'must be greater than 0 (a share of 0 admits nothing: use rateLimits: fail-closed)',
      });
    }
  })
  .transform(({ rateLimits, localShare, budgets }) => ({
    rateLimits,
    /** Local share in parts per million; 0 when failing closed. */
    localSharePpm: rateLimits === 'fail-closed' ? 0 : (localShare ?? DEFAULT_LOCAL_SHARE_PPM),
    budgets,
  }));

export const LimitSetConfigSchema = z
  .strictObject({
    requestsPerMinute: rate.optional(),
    /** Required (>= 1) with requestsPerMinute. */
    requestBurst: burst.optional(),
    tokensPerMinute: rate.optional(),
    /** Required (>= 1) with tokensPerMinute. */
    tokenBurst: burst.optional(),
    maxConcurrent: z.number().int().min(1).max(MAX_CONCURRENT).optional(),
    queue: QueueConfigSchema.optional(),
    budgets: z.array(BudgetConfigSchema).default([]),
    onStoreFailure: StoreFailureConfigSchema.prefault({}),
  })
  .superRefine((value, context) => {
    const pairs = [
      ['requestsPerMinute', 'requestBurst'],
      ['tokensPerMinute', 'tokenBurst'],
    ] as const;
    for (const [rateField, burstField] of pairs) {
      const burstValue = value[burstField];
      if (value[rateField] !== undefined && (burstValue === undefined || burstValue < 1)) {
        context.addIssue({
          code: 'custom',
          path: [burstField],
          message: `must be at least 1 when ${rateField} is set (the most admitted at once)`,
        });
      } else if (value[rateField] === undefined && burstValue !== undefined) {
        context.addIssue({ code: 'custom', path: [burstField], message: `needs ${rateField}` });
      }
    }
    const queue = value.queue;
    if (queue !== undefined && (queue.maxWaitMs === 0) !== (queue.maxLength === 0)) {
      context.addIssue({
        code: 'custom',
        path: ['queue'],
        message: 'set both maxWaitMs and maxLength above 0 to allow queueing, or both to 0 to forbid it',
      });
    }
  });

export const PriceConfigSchema = z
  .strictObject({
    /** Public model name (a route's model). */
    model: z.string().regex(MODEL_PATTERN, `must match ${String(MODEL_PATTERN)}`),
    /**
     * Backend id, a target of the route serving `model`; omitted = every backend of the model without a price
     * of its own.
     */
    backend: id.optional(),
    inputUsdPerMillionTokens: decimalMicros(MAX_PRICE_MICROS_PER_MILLION, '"0.50"'),
    outputUsdPerMillionTokens: decimalMicros(MAX_PRICE_MICROS_PER_MILLION, '"1.50"'),
  })
  .transform(({ model, backend, inputUsdPerMillionTokens, outputUsdPerMillionTokens }) => ({
    model,
    backend,
    inputMicrosPerMillionTokens: inputUsdPerMillionTokens,
    outputMicrosPerMillionTokens: outputUsdPerMillionTokens,
  }));

export type BudgetConfig = z.infer<typeof BudgetConfigSchema>;
export type QueueConfig = z.infer<typeof QueueConfigSchema>;
/** A validated `limits:` block; money in integer micros, local share in parts per million. */
export type LimitSetConfig = z.infer<typeof LimitSetConfigSchema>;
/** A validated `prices:` entry; prices in integer micros per million tokens. */
export type PriceConfig = z.infer<typeof PriceConfigSchema>;
