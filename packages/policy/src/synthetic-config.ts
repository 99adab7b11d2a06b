import { stringify } from 'yaml';
import type { ConfigDocuments } from './config-document.js';
import { hashSecret } from './hash-secret.js';

/** Size of a synthetic policy. */
export interface SyntheticConfigSize {
  /** API keys, spread over one tenant per 100 keys. */
  keys: number;
  backends: number;
  /** Routes; each has up to three weighted targets at priority 0 and one fallback at priority 1. */
  routes: number;
}

const KEYS_PER_TENANT = 100;
const TARGETS_PER_ROUTE = 4;

/** Public id of the synthetic API key number `index` (0-based). */
export function syntheticApiKeyPublicId(index: number): string {
  return `rk_syn${String(index).padStart(6, '0')}`;
}

/**
 * The full key string ("<publicId>.<secret>") of synthetic key number `index`, so that load tests can
 * authenticate against a synthetic policy. Not a secret: synthetic configs are for benchmarks and tests only.
 */
export function syntheticApiKey(index: number): string {
  return `${syntheticApiKeyPublicId(index)}.synthetic-secret-${index}`;
}

/**
 * Generates a valid, deterministic pair of config documents of the given size, for benchmarks and load
 * tests (router.yaml with backends, routes and one admin token; policies.yaml with tenants and keys).
 * Route models are "model-<n>"; even keys may call every model, odd keys two of them.
 *
 * @throws RangeError when a size is not a non-negative integer, or routes are asked for without backends.
 */
export function generateSyntheticConfig(size: SyntheticConfigSize): ConfigDocuments {
  for (const [name, value] of Object.entries(size)) {
    if (!Number.isInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer`);
  }
  if (size.routes > 0 && size.backends === 0) throw new RangeError('routes need at least one backend');

  const backends = Array.from({ length: size.backends }, (_, index) => ({
    id: `backend-${index}`,
    baseUrl: `http://backend-${index}.synthetic.invalid:8000/v1`,
    credentialRef: `env:BACKEND_${index}_KEY`,
  }));
  const routes = Array.from({ length: size.routes }, (_, index) => syntheticRoute(index, size.backends));
  const admin = {
    tokens: [{ id: 'synthetic-admin', sha256: hashSecret('synthetic-admin-token'), role: 'admin' }],
  };

  const tenantCount = Math.max(1, Math.ceil(size.keys / KEYS_PER_TENANT));
  const tenants = Array.from({ length: tenantCount }, (_, index) => ({
    id: `tenant-${index}`,
    displayName: `Synthetic tenant ${index}`,
  }));
  const apiKeys = Array.from({ length: size.keys }, (_, index) => ({
    publicId: syntheticApiKeyPublicId(index),
    secretSha256: hashSecret(syntheticApiKey(index)),
    tenant: `tenant-${Math.floor(index / KEYS_PER_TENANT)}`,
    allowedModels:
      index % 2 === 0 || size.routes === 0
        ? ['*']
        : [`model-${index % size.routes}`, `model-${(index + 1) % size.routes}`],
  }));

  return {
    router: { source: 'synthetic:router.yaml', text: stringify({ backends, routes, admin }) },
    policies: { source: 'synthetic:policies.yaml', text: stringify({ tenants, apiKeys }) },
  };
}

function syntheticRoute(index: number, backendCount: number) {
  const targetCount = Math.min(TARGETS_PER_ROUTE, backendCount);
  const weights = [50, 30, 20];
  const targets = Array.from({ length: targetCount }, (_, position) => {
    const isFallback = position === TARGETS_PER_ROUTE - 1;
    return {
      backend: `backend-${(index * TARGETS_PER_ROUTE + position) % backendCount}`,
      weight: isFallback ? 1 : (weights[position] ?? 1),
      priority: isFallback ? 1 : 0,
      upstreamModel: `upstream-model-${index}`,
    };
  });
  return { id: `route-${index}`, model: `model-${index}`, maxAttempts: 3, targets };
}
