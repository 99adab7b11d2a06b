export { BudgetChangeConflictError } from './budget-change-conflict-error.js';
export {
  DEFAULT_BUDGET_CHANGE_RETENTION_MS,
  MAX_BUDGET_CHANGE_RETENTION_MS,
  MAX_CHANGE_ID_LENGTH,
  type BudgetChange,
  type BudgetChangeFate,
  type BudgetChangeResult,
  type BudgetChangeStore,
} from './budget-change-store.js';
export { DEFAULT_LIMITS_KEY_PREFIX } from './default-key-prefix.js';
export { DuplicateRequestError } from './duplicate-request-error.js';
export {
  validatePlan,
  type BudgetCheck,
  type BudgetRef,
  type ConcurrencyCheck,
  type LimitCheck,
  type LimitCheckKind,
  type LimitPlan,
  type RequestsCheck,
  type TokensCheck,
} from './limit-plan.js';
export {
  DEFAULT_RECORD_RETENTION_MS,
  MAX_RESERVATION_TTL_MS,
  type AdmitAllowed,
  type AdmitCosts,
  type AdmitDecision,
  type AdmitDenied,
  type AdmitRequest,
  type BudgetSnapshot,
  type CheckResult,
  type LimitStore,
  type ReleaseOutcome,
  type ReleaseStatus,
  type Reservation,
  type SettleOutcome,
  type SettleStatus,
  type Usage,
} from './limit-store.js';
export { LimitStoreUnavailableError, type LimitStoreFailure } from './limit-store-unavailable-error.js';
export { MAX_MICROS } from './math/budget-ledger.js';
export type { BudgetPeriod } from './math/budget-period.js';
export { CONCURRENCY_RETRY_HINT_MS } from './math/concurrency-slots.js';
export { MAX_BUCKET_UNITS } from './math/token-bucket.js';
export { createMemoryLimitStore, type MemoryLimitStoreOptions } from './memory/memory-limit-store.js';
export { createRedisLimitStore, type RedisLimitStoreOptions } from './redis/redis-limit-store.js';
