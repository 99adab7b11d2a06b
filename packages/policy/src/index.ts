// Public surface of @api-router/policy: pure domain (no I/O) shared by both planes. The control plane
// parses and compiles config into snapshots; the data plane validates snapshots into runtime policies and
// picks targets. Agreed contract: /work/notes/policy-api.md (do not rename exports).
export type { ConfigDocument, ConfigDocuments, ConfigPath } from './config-document.js';
export { formatConfigPath } from './config-document.js';
export { ConfigInvalidError, formatConfigIssue, type ConfigIssue } from './config-issue.js';
export {
  API_KEY_PUBLIC_ID_PATTERN,
  ID_PATTERN,
  type AdminRole,
  type AdminTokenConfig,
  type ApiKeyConfig,
  type BackendConfig,
  type ParsedConfig,
  type PoliciesConfig,
  type RouteConfig,
  type RouteTargetConfig,
  type RouterConfig,
  type RouterSettingsConfig,
  type TenantConfig,
} from './config-schema.js';
export type { BudgetConfig, LimitSetConfig, PriceConfig, QueueConfig } from './limits-config-schema.js';
export { decimalToMicros, formatMicros, MICROS_PER_UNIT, type DecimalMicros } from './decimal-micros.js';
export {
  DEFAULT_LOCAL_SHARE_PPM,
  DEFAULT_MAX_OUTPUT_TOKENS,
  DEFAULT_RESERVATION_TTL_MS,
  MAX_BUDGET_MICROS,
  MAX_PRICE_MICROS_PER_MILLION,
  RESERVATION_SETTLEMENT_MARGIN_MS,
} from './limit-bounds.js';
export { parseConfig } from './parse-config.js';
export { compileSnapshot, type CompileOptions } from './compile-snapshot.js';
export { computeSnapshotHash } from './snapshot-hash.js';
export { MAX_SNAPSHOT_BYTES } from './snapshot-size.js';
export { SnapshotInvalidError } from './snapshot-invalid-error.js';
export type { RuntimePolicy, RuntimeRoute, RuntimeTarget } from './runtime-policy.js';
export { compileRuntimePolicy } from './compile-runtime-policy.js';
export { pickTarget } from './pick-target.js';
export type { PriceLookup, TokenPrice } from './price-table.js';
export {
  budgetCheckId,
  ownerCheckId,
  type BudgetCheck,
  type ConcurrencyCheck,
  type LimitCheck,
  type LimitOwner,
  type LimitPlan,
  type RequestsCheck,
  type TokensCheck,
} from './limit-plan.js';
export { buildLimitPlan, type LimitOwners } from './build-limit-plan.js';
export { localShareOf, planForStoreFailure, type StoreFailurePlan } from './plan-for-store-failure.js';
export { resolveQueuePolicy, type ResolvedQueuePolicy } from './resolve-queue-policy.js';
export { maxCostMicros, type MaxCostInput } from './max-cost-micros.js';
export {
  estimateInputTokens,
  MESSAGE_OVERHEAD_TOKENS,
  REQUEST_OVERHEAD_TOKENS,
  type EstimableMessage,
} from './estimate-input-tokens.js';
export { hashSecret } from './hash-secret.js';
export {
  generateSyntheticConfig,
  syntheticApiKey,
  syntheticApiKeyPublicId,
  type SyntheticConfigSize,
} from './synthetic-config.js';
