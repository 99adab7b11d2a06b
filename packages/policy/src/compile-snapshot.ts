import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  ApiKeySchema,
  BackendProvider,
  BackendSchema,
  OutputLimitParam,
  PolicySnapshotSchema,
  RouteSchema,
  RouteTargetSchema,
  RouterSettingsSchema,
  TenantSchema,
  type ApiKey,
  type Backend,
  type PolicySnapshot,
  type Route,
  type Tenant,
} from '@api-router/contracts';
import type {
  ApiKeyConfig,
  BackendConfig,
  ParsedConfig,
  RouteConfig,
  TenantConfig,
} from './config-schema.js';
import { compareStrings } from './compare-strings.js';
import { compileLimitSet, compilePrices } from './compile-limits.js';
import { computeSnapshotHash } from './snapshot-hash.js';

const OUTPUT_LIMIT_PARAMS: Readonly<Record<BackendConfig['outputLimitParam'], OutputLimitParam>> = {
  max_tokens: OutputLimitParam.MAX_TOKENS,
  max_completion_tokens: OutputLimitParam.MAX_COMPLETION_TOKENS,
};

/** What the control plane decides about a snapshot, as opposed to what the config says. */
export interface CompileOptions {
  /** Snapshot version; the control plane picks it (strictly increasing). */
  version: bigint;
  /** Where the content came from, for humans: "file:<paths>" or "etcd:<prefix>@<revision>". */
  sourceRevision: string;
  createdAt: Date;
}

/**
 * Compiles a validated config into the snapshot pushed to data planes. Deterministic: entries are sorted
 * (backends, routes, tenants by id; keys by publicId; targets by priority then backend; allowed models
 * sorted and deduplicated; budgets by id; prices by model then backend), so the same config content gives the same bytes and `contentHash` whatever the
 * order of its YAML lists and whatever `version`/`createdAt`. Admin tokens are control-plane only and are
 * not included. Expects a config from `parseConfig`; does not re-validate it.
 */
export function compileSnapshot(config: ParsedConfig, options: CompileOptions): PolicySnapshot {
  const { router, policies } = config;
  const snapshot = create(PolicySnapshotSchema, {
    version: options.version,
    createdAt: timestampFromDate(options.createdAt),
    sourceRevision: options.sourceRevision,
    settings: create(RouterSettingsSchema, {
      maxBodyBytes: router.settings.maxBodyBytes,
      defaultRequestTimeoutMs: router.settings.defaultRequestTimeoutMs,
      defaultMaxOutputTokens: router.settings.defaultMaxOutputTokens,
      reservationTtlMs: router.settings.reservationTtlMs,
    }),
    backends: sortedBy(router.backends, (backend) => backend.id).map(compileBackend),
    routes: sortedBy(router.routes, (route) => route.id).map(compileRoute),
    tenants: sortedBy(policies.tenants, (tenant) => tenant.id).map(compileTenant),
    apiKeys: sortedBy(policies.apiKeys, (key) => key.publicId).map(compileApiKey),
    prices: compilePrices(router.prices),
  });
  snapshot.contentHash = computeSnapshotHash(snapshot);
  return snapshot;
}

function compileBackend(backend: BackendConfig): Backend {
  return create(BackendSchema, {
    id: backend.id,
    baseUrl: backend.baseUrl,
    provider: BackendProvider.OPENAI_COMPATIBLE,
    enabled: backend.enabled,
    connectTimeoutMs: backend.connectTimeoutMs,
    firstByteTimeoutMs: backend.firstByteTimeoutMs,
    maxConnections: backend.maxConnections,
    credentialRef: backend.credentialRef ?? '',
    healthPath: backend.healthPath,
    // Always explicit (never UNSPECIFIED), like every enum this compile writes.
    outputLimitParam: OUTPUT_LIMIT_PARAMS[backend.outputLimitParam],
  });
}

function compileRoute(route: RouteConfig): Route {
  const targets = [...route.targets].sort(
    (a, b) => a.priority - b.priority || compareStrings(a.backend, b.backend),
  );
  return create(RouteSchema, {
    id: route.id,
    model: route.model,
    maxAttempts: route.maxAttempts,
    requestTimeoutMs: route.requestTimeoutMs,
    targets: targets.map((target) =>
      create(RouteTargetSchema, {
        backendId: target.backend,
        weight: target.weight,
        priority: target.priority,
        upstreamModel: target.upstreamModel ?? '',
      }),
    ),
  });
}

function compileTenant(tenant: TenantConfig): Tenant {
  return create(TenantSchema, {
    id: tenant.id,
    displayName: tenant.displayName,
    disabled: tenant.disabled,
    limits: compileLimitSet(tenant.limits),
  });
}

function compileApiKey(key: ApiKeyConfig): ApiKey {
  return create(ApiKeySchema, {
    publicId: key.publicId,
    secretSha256: Uint8Array.from(Buffer.from(key.secretSha256, 'hex')),
    tenantId: key.tenant,
    allowedModels: [...new Set(key.allowedModels)].sort(compareStrings),
    disabled: key.disabled,
    expiresAt: key.expiresAt === undefined ? undefined : timestampFromDate(key.expiresAt),
    limits: compileLimitSet(key.limits),
    // Config order is kept: it is the operator's (current, next) and identical config compiles identically.
    signingSecretRefs: [...key.signingSecretRefs],
  });
}

function sortedBy<T>(items: readonly T[], keyOf: (item: T) => string): T[] {
  return [...items].sort((a, b) => compareStrings(keyOf(a), keyOf(b)));
}
