import { z } from 'zod';
import { describeBaseUrlProblem } from './base-url-problem.js';
import { API_KEY_PUBLIC_ID_PATTERN, ID_PATTERN, MODEL_PATTERN } from './config-patterns.js';
import {
  DEFAULT_MAX_OUTPUT_TOKENS,
  DEFAULT_RESERVATION_TTL_MS,
  MAX_RESERVATION_TTL_MS,
} from './limit-bounds.js';
import { LimitSetConfigSchema, PriceConfigSchema } from './limits-config-schema.js';

export { API_KEY_PUBLIC_ID_PATTERN, ID_PATTERN };

// Schemas of the two config documents (router.yaml and policies.yaml). Every object is strict: an unknown
// field is an error, because a typo in a policy field ("wieght") must never silently fall back to a default.
// Cross-references between entries (duplicate ids, unknown backends...) are checked in config-references.ts.

const UINT32_MAX = 4_294_967_295;

const SHA256_HEX_PATTERN = /^[0-9a-f]{64}$/;
const CREDENTIAL_REF_PATTERN = /^(env:[A-Za-z_][A-Za-z0-9_]*|file:\/[^\s]*)$/;

const id = z.string().regex(ID_PATTERN, `must match ${String(ID_PATTERN)}`);
const sha256Hex = z.string().regex(SHA256_HEX_PATTERN, 'must be 64 lower-case hex characters (a sha256)');
const modelName = z.string().regex(MODEL_PATTERN, `must match ${String(MODEL_PATTERN)}`);
const uint32 = z.number().int().min(0).max(UINT32_MAX);
const positiveUint32 = z.number().int().min(1).max(UINT32_MAX);

const baseUrl = z.string().superRefine((value, context) => {
  const problem = describeBaseUrlProblem(value);
  if (problem !== undefined) context.addIssue({ code: 'custom', message: problem });
});

export const RouterSettingsConfigSchema = z.strictObject({
  /** Largest request body accepted, in bytes. Default 1 MiB. */
  maxBodyBytes: positiveUint32.default(1_048_576),
  /** Deadline of a whole inference request, in milliseconds. Default 30 s. */
  defaultRequestTimeoutMs: positiveUint32.default(30_000),
  /** Output tokens assumed for a request that sets no maximum, to size its reservation. Default 1024. */
  defaultMaxOutputTokens: positiveUint32.default(DEFAULT_MAX_OUTPUT_TOKENS),
  /**
   * Expiry of an unsettled reservation (crashed replica), in milliseconds; at least every request deadline.
   * Default 120 s.
   */
  reservationTtlMs: z.number().int().min(1).max(MAX_RESERVATION_TTL_MS).default(DEFAULT_RESERVATION_TTL_MS),
});

export const BackendConfigSchema = z.strictObject({
  id,
  baseUrl,
  provider: z.literal('openai-compatible').default('openai-compatible'),
  enabled: z.boolean().default(true),
  connectTimeoutMs: positiveUint32.default(2000),
  firstByteTimeoutMs: positiveUint32.default(30_000),
  maxConnections: positiveUint32.default(128),
  credentialRef: z
    .string()
    .regex(CREDENTIAL_REF_PATTERN, 'must be "env:NAME" or "file:/absolute/path"')
    .optional(),
  healthPath: z
    .string()
    .regex(/^\/[^\s?#]*$/, 'must be an absolute path starting with "/"')
    .default('/health'),
  /**
   * Body field that carries an output limit the router sets (the cap of a request without one, and
   * /v1/inference's max_output_tokens): OpenAI's reasoning models refuse `max_tokens`, some
   * OpenAI-compatible servers know nothing else. Default `max_tokens`.
   */
  outputLimitParam: z
    .enum(['max_tokens', 'max_completion_tokens'], {
      error: 'must be "max_tokens" or "max_completion_tokens"',
    })
    .default('max_tokens'),
});

export const RouteTargetConfigSchema = z.strictObject({
  backend: id,
  weight: uint32.default(1),
  priority: uint32.default(0),
  upstreamModel: z.string().min(1).max(200).optional(),
});

export const RouteConfigSchema = z.strictObject({
  id,
  model: modelName,
  maxAttempts: z.number().int().min(1).max(5).default(2),
  requestTimeoutMs: uint32.default(0),
  targets: z.array(RouteTargetConfigSchema).min(1),
});

export const AdminRoleSchema = z.enum(['viewer', 'operator', 'admin']);

export const AdminTokenConfigSchema = z.strictObject({
  id,
  sha256: sha256Hex,
  role: AdminRoleSchema,
});

export const RouterConfigSchema = z.strictObject({
  settings: RouterSettingsConfigSchema.prefault({}),
  backends: z.array(BackendConfigSchema).default([]),
  routes: z.array(RouteConfigSchema).default([]),
  /** Prices per model (and optionally backend), used by budgets. */
  prices: z.array(PriceConfigSchema).default([]),
  admin: z.strictObject({ tokens: z.array(AdminTokenConfigSchema).default([]) }).prefault({}),
});

export const TenantConfigSchema = z.strictObject({
  id,
  displayName: z.string().max(200).default(''),
  disabled: z.boolean().default(false),
  limits: LimitSetConfigSchema.optional(),
});

export const ApiKeyConfigSchema = z.strictObject({
  publicId: z.string().regex(API_KEY_PUBLIC_ID_PATTERN, `must match ${String(API_KEY_PUBLIC_ID_PATTERN)}`),
  secretSha256: sha256Hex,
  tenant: id,
  allowedModels: z.array(z.union([z.literal('*'), modelName])),
  disabled: z.boolean().default(false),
  // YAML 1.2 (the default schema) reads timestamps as strings; a Date is accepted for callers that build
  // configs in code.
  expiresAt: z
    .union([z.iso.datetime({ offset: true }).transform((text) => new Date(text)), z.date()], {
      error: 'must be an ISO 8601 date-time with a time zone, e.g. 2030-01-01T00:00:00Z',
    })
    .optional(),
  limits: LimitSetConfigSchema.optional(),
  /**
   * References to this key's hmac-sha256 signing secrets (RFC 9421, keyid = publicId), resolved by the data
   * plane like a backend's credentialRef: "env:NAME" or "file:/absolute/path". At most two (rotation).
   */
  signingSecretRefs: z
    .array(z.string().regex(CREDENTIAL_REF_PATTERN, 'must be "env:NAME" or "file:/absolute/path"'))
    .max(2, 'at most two signing secrets (the current one and the next, during a rotation)')
    .refine((refs) => new Set(refs).size === refs.length, 'must not repeat a reference')
    .default([]),
});

export const PoliciesConfigSchema = z.strictObject({
  tenants: z.array(TenantConfigSchema).default([]),
  apiKeys: z.array(ApiKeyConfigSchema).default([]),
});

export type AdminRole = z.infer<typeof AdminRoleSchema>;
export type AdminTokenConfig = z.infer<typeof AdminTokenConfigSchema>;
export type RouterSettingsConfig = z.infer<typeof RouterSettingsConfigSchema>;
export type BackendConfig = z.infer<typeof BackendConfigSchema>;
export type RouteTargetConfig = z.infer<typeof RouteTargetConfigSchema>;
export type RouteConfig = z.infer<typeof RouteConfigSchema>;
export type TenantConfig = z.infer<typeof TenantConfigSchema>;
export type ApiKeyConfig = z.infer<typeof ApiKeyConfigSchema>;
/** Validated router.yaml, defaults filled in. Includes control-plane-only parts (admin tokens). */
export type RouterConfig = z.infer<typeof RouterConfigSchema>;
/** Validated policies.yaml, defaults filled in. */
export type PoliciesConfig = z.infer<typeof PoliciesConfigSchema>;

/** Both validated documents. */
export interface ParsedConfig {
  router: RouterConfig;
  policies: PoliciesConfig;
}
