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
export { parseConfig } from './parse-config.js';
export { compileSnapshot, type CompileOptions } from './compile-snapshot.js';
export { computeSnapshotHash } from './snapshot-hash.js';
export { SnapshotInvalidError } from './snapshot-invalid-error.js';
export type { RuntimePolicy, RuntimeRoute, RuntimeTarget } from './runtime-policy.js';
export { compileRuntimePolicy } from './compile-runtime-policy.js';
export { pickTarget } from './pick-target.js';
export { hashSecret } from './hash-secret.js';
export {
  generateSyntheticConfig,
  syntheticApiKey,
  syntheticApiKeyPublicId,
  type SyntheticConfigSize,
} from './synthetic-config.js';
