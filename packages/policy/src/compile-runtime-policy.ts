import { timestampDate } from '@bufbuild/protobuf/wkt';
import {
  BackendProvider,
  OutputLimitParam,
  type ApiKey,
  type Backend,
  type LimitSet,
  type PolicySnapshot,
  type Route,
  type Tenant,
} from '@api-router/contracts';
import { describeBaseUrlProblem } from './base-url-problem.js';
import {
  DEFAULT_MAX_OUTPUT_TOKENS,
  DEFAULT_RESERVATION_TTL_MS,
  MAX_RESERVATION_TTL_MS,
} from './limit-bounds.js';
import { describeLimitSetProblem } from './limit-set-problem.js';
import { createPriceTable } from './price-table.js';
import type { RuntimePolicy, RuntimeRoute, RuntimeTarget } from './runtime-policy.js';
import { computeSnapshotHash } from './snapshot-hash.js';
import { SnapshotInvalidError } from './snapshot-invalid-error.js';

const SHA256_BYTES = 32;
/** A key's signing secrets: the current one and, during a rotation, the next. */
const MAX_SIGNING_SECRET_REFS = 2;
/** Output limit params the data plane can place; UNSPECIFIED is a snapshot from before the field. */
const KNOWN_OUTPUT_LIMIT_PARAMS: ReadonlySet<OutputLimitParam> = new Set([
  OutputLimitParam.UNSPECIFIED,
  OutputLimitParam.MAX_TOKENS,
  OutputLimitParam.MAX_COMPLETION_TOKENS,
]);

/**
 * Validates a snapshot received from the control plane (or read from the disk cache) and compiles it into
 * its runtime form. Checks: content_hash matches the content, version > 0, settings present and positive,
 * ids unique (backends, routes, route models, tenants, key public ids), every reference resolves, every
 * route has a target with weight > 0, base URLs are absolute http(s) without trailing slash, providers and
 * output limit params are known, key hashes are 32 bytes, limit sets are enforceable (see
 * describeLimitSetProblem), prices are unique and name existing backends. Settings added after the first
 * release (default_max_output_tokens, reservation_ttl_ms, a backend's output_limit_param) read 0 as their
 * default, so an older cached snapshot stays valid. Linear in the snapshot's size. Never mutates `snapshot`;
 * the result shares its messages.
 *
 * @throws SnapshotInvalidError with a precise reason at the first problem found.
 */
export function compileRuntimePolicy(snapshot: PolicySnapshot): RuntimePolicy {
  if (snapshot.version <= 0n) fail('version must be greater than 0');
  const actualHash = computeSnapshotHash(snapshot);
  if (actualHash !== snapshot.contentHash) {
    fail(`content_hash ${snapshot.contentHash || '(empty)'} does not match the content (${actualHash})`);
  }
  const settings = snapshot.settings;
  if (settings === undefined) fail('settings missing');
  if (settings.maxBodyBytes <= 0) fail('settings.max_body_bytes must be greater than 0');
  if (settings.defaultRequestTimeoutMs <= 0)
    fail('settings.default_request_timeout_ms must be greater than 0');
  if (settings.reservationTtlMs > MAX_RESERVATION_TTL_MS) {
    fail(`settings.reservation_ttl_ms must be at most ${MAX_RESERVATION_TTL_MS}`);
  }

  const backendsById = indexUnique(snapshot.backends, (backend) => backend.id, 'backend id');
  for (const backend of snapshot.backends) validateBackend(backend);
  const tenantsById = indexUnique(snapshot.tenants, (tenant) => tenant.id, 'tenant id');
  for (const tenant of snapshot.tenants) validateLimits(tenant.limits, `tenant ${tenant.id}`);
  const apiKeysByPublicId = indexUnique(snapshot.apiKeys, (key) => key.publicId, 'API key public_id');
  for (const key of snapshot.apiKeys) validateApiKey(key, tenantsById);
  const priceFor = createPriceTable(snapshot.prices, backendsById);
  if (typeof priceFor === 'string') fail(priceFor);
  indexUnique(snapshot.routes, (route) => route.id, 'route id');
  const routesByModel = new Map<string, RuntimeRoute>();
  for (const route of snapshot.routes) {
    if (routesByModel.has(route.model)) fail(`duplicate route model "${route.model}"`);
    routesByModel.set(route.model, compileRoute(route, backendsById));
  }

  return {
    version: snapshot.version,
    contentHash: snapshot.contentHash,
    createdAt: snapshot.createdAt === undefined ? new Date(0) : timestampDate(snapshot.createdAt),
    snapshot,
    settings: {
      maxBodyBytes: settings.maxBodyBytes,
      defaultRequestTimeoutMs: settings.defaultRequestTimeoutMs,
      defaultMaxOutputTokens: settings.defaultMaxOutputTokens || DEFAULT_MAX_OUTPUT_TOKENS,
      reservationTtlMs: settings.reservationTtlMs || DEFAULT_RESERVATION_TTL_MS,
    },
    routesByModel,
    backendsById,
    tenantsById,
    apiKeysByPublicId,
    limitsForTenant: (tenantId) => tenantsById.get(tenantId)?.limits,
    limitsForKey: (publicId) => apiKeysByPublicId.get(publicId)?.limits,
    priceFor,
  };
}

function validateBackend(backend: Backend): void {
  const problem = describeBaseUrlProblem(backend.baseUrl);
  if (problem !== undefined) fail(`backend ${backend.id}: base_url "${backend.baseUrl}" ${problem}`);
  if (backend.provider !== BackendProvider.OPENAI_COMPATIBLE) {
    fail(`backend ${backend.id}: unknown provider ${String(backend.provider)}`);
  }
  // A field this data plane does not know (from a newer control plane) would be sent upstream as
  // `max_tokens`: the very request a backend configured otherwise refuses.
  if (!KNOWN_OUTPUT_LIMIT_PARAMS.has(backend.outputLimitParam)) {
    fail(`backend ${backend.id}: unknown output_limit_param ${String(backend.outputLimitParam)}`);
  }
}

function validateApiKey(key: ApiKey, tenantsById: ReadonlyMap<string, Tenant>): void {
  if (key.secretSha256.length !== SHA256_BYTES) {
    fail(
      `API key ${key.publicId}: secret_sha256 has ${key.secretSha256.length} bytes, expected ${SHA256_BYTES}`,
    );
  }
  if (!tenantsById.has(key.tenantId)) fail(`API key ${key.publicId}: unknown tenant "${key.tenantId}"`);
  if (key.signingSecretRefs.length > MAX_SIGNING_SECRET_REFS) {
    fail(
      `API key ${key.publicId}: ${key.signingSecretRefs.length} signing_secret_refs, at most ${MAX_SIGNING_SECRET_REFS}`,
    );
  }
  validateLimits(key.limits, `API key ${key.publicId}`);
}

function validateLimits(limits: LimitSet | undefined, owner: string): void {
  const problem = limits === undefined ? undefined : describeLimitSetProblem(limits);
  if (problem !== undefined) fail(`${owner}: limits: ${problem}`);
}

function compileRoute(route: Route, backendsById: ReadonlyMap<string, Backend>): RuntimeRoute {
  if (route.model === '') fail(`route ${route.id}: model is empty`);
  if (route.maxAttempts < 1) fail(`route ${route.id}: max_attempts must be at least 1`);
  const targets: RuntimeTarget[] = [];
  let hasPositiveWeight = false;
  for (const [index, target] of route.targets.entries()) {
    const backend = backendsById.get(target.backendId);
    if (backend === undefined)
      fail(`route ${route.id}: target ${index} names unknown backend "${target.backendId}"`);
    if (target.weight > 0) hasPositiveWeight = true;
    targets.push({
      backend,
      weight: target.weight,
      priority: target.priority,
      upstreamModel: target.upstreamModel === '' ? route.model : target.upstreamModel,
    });
  }
  if (!hasPositiveWeight) fail(`route ${route.id}: no target has a weight greater than 0`);
  // Stable sort: failover walks targets in priority order, ties keep the snapshot's order.
  targets.sort((a, b) => a.priority - b.priority);
  return { route, targets };
}

function indexUnique<T>(items: readonly T[], keyOf: (item: T) => string, label: string): Map<string, T> {
  const index = new Map<string, T>();
  for (const item of items) {
    const key = keyOf(item);
    if (key === '') fail(`empty ${label}`);
    if (index.has(key)) fail(`duplicate ${label} "${key}"`);
    index.set(key, item);
  }
  return index;
}

function fail(reason: string): never {
  throw new SnapshotInvalidError(reason);
}
