// Policies for the data plane's tests, built the way the control plane builds them (YAML → parseConfig →
// compileSnapshot → compileRuntimePolicy). Excluded from the build.
import { createHash } from 'node:crypto';
import type { PolicySnapshot } from '@api-router/contracts';
import {
  compileRuntimePolicy,
  compileSnapshot,
  hashSecret,
  parseConfig,
  type RuntimePolicy,
} from '@api-router/policy';

/** A deterministic, well-formed API key: `<publicId>.<43 base64url characters>`. */
export function testApiKey(publicId: string): string {
  return `${publicId}.${createHash('sha256').update(`secret of ${publicId}`).digest('base64url')}`;
}

/** Base64 text of a deterministic 32-byte hmac-sha256 secret. */
export function testSigningSecret(label: string): string {
  return createHash('sha256').update(`signing secret ${label}`).digest('base64');
}

export interface TestPolicyOptions {
  /** Base URL (…/v1) of mock-a and mock-b; default an unreachable port. */
  backendUrls?: Record<string, string>;
  version?: bigint;
  /** Extra router.yaml settings lines (indented under `settings:`), e.g. "  maxBodyBytes: 100". */
  settingsYaml?: string;
  /** signingSecretRefs by key public id (policies.yaml). */
  signingSecretRefs?: Record<string, string[]>;
  /** Extra lines appended to each backend entry (indented 4 spaces), e.g. "    maxConnections: 2". */
  backendYaml?: string;
  /** Base URL of mock-dead, where nothing listens; default http://127.0.0.1:9/v1. */
  deadBackendUrl?: string;
}

/** Keys of the test policy: rk_demo01 may use every model, rk_limited only other-model; the rest are refusable. */
export const TEST_KEYS = {
  demo: 'rk_demo01',
  limited: 'rk_limited',
  disabled: 'rk_disabled',
  expired: 'rk_expired',
  frozenTenant: 'rk_frozen',
  signer: 'rk_signer',
} as const;

function backendYaml(id: string, url: string, options: TestPolicyOptions, extra: string[] = []): string {
  return [
    `  - id: ${id}`,
    `    baseUrl: ${url}`,
    '    connectTimeoutMs: 1000',
    '    firstByteTimeoutMs: 5000',
    '    maxConnections: 8',
    ...extra,
    ...(options.backendYaml === undefined ? [] : [options.backendYaml]),
  ].join('\n');
}

/**
 * Routes: demo-chat → mock-a (upstream model mock-model, with a credential); other-model → mock-b;
 * failover-model → mock-dead (priority 0, nothing listens) then mock-a (priority 1); off-model → mock-off
 * (disabled backend).
 */
function routerYaml(urls: Record<string, string>, options: TestPolicyOptions): string {
  const a = urls['mock-a'] ?? 'http://127.0.0.1:9/v1';
  const b = urls['mock-b'] ?? a;
  const dead = options.deadBackendUrl ?? 'http://127.0.0.1:9/v1';
  return `settings:\n${options.settingsYaml ?? '  maxBodyBytes: 65536'}
backends:
${backendYaml('mock-a', a, options, ['    credentialRef: env:MOCK_A_KEY'])}
${backendYaml('mock-b', b, options)}
${backendYaml('mock-dead', dead, options)}
${backendYaml('mock-off', a, options, ['    enabled: false'])}
routes:
  - id: demo-chat
    model: demo-chat
    targets:
      - { backend: mock-a, weight: 1, upstreamModel: mock-model }
  - id: other
    model: other-model
    targets:
      - { backend: mock-b, weight: 1 }
  - id: failover
    model: failover-model
    maxAttempts: 2
    targets:
      - { backend: mock-dead, weight: 1, priority: 0 }
      - { backend: mock-a, weight: 1, priority: 1 }
  - id: off
    model: off-model
    targets:
      - { backend: mock-off, weight: 1 }
`;
}

function policiesYaml(options: TestPolicyOptions): string {
  const key = (publicId: string, extra: string, tenant = 'acme', models = "['*']"): string => {
    const refs = options.signingSecretRefs?.[publicId];
    const signing = refs === undefined ? '' : `, signingSecretRefs: ${JSON.stringify(refs)}`;
    return `  - { publicId: ${publicId}, secretSha256: ${hashSecret(testApiKey(publicId))}, tenant: ${tenant}, allowedModels: ${models}${extra}${signing} }`;
  };
  return `tenants:
  - { id: acme, displayName: Acme }
  - { id: frozen, displayName: Frozen, disabled: true }
apiKeys:
${key(TEST_KEYS.demo, '')}
${key(TEST_KEYS.limited, '', 'acme', "['other-model']")}
${key(TEST_KEYS.disabled, ', disabled: true')}
${key(TEST_KEYS.expired, ', expiresAt: "2020-01-01T00:00:00Z"')}
${key(TEST_KEYS.frozenTenant, '', 'frozen')}
${key(TEST_KEYS.signer, '')}
`;
}

/** The snapshot a control plane would publish for the test config (content hash correct). */
export function buildTestSnapshot(options: TestPolicyOptions = {}): PolicySnapshot {
  const urls = options.backendUrls ?? {
    'mock-a': 'http://127.0.0.1:9/v1',
    'mock-b': 'http://127.0.0.1:9/v1',
  };
  return compileTestSnapshot(routerYaml(urls, options), policiesYaml(options), options.version);
}

/** Compiles router and policies YAML as the control plane would, at `version` (content hash correct). */
export function compileTestSnapshot(router: string, policies: string, version = 1n): PolicySnapshot {
  const config = parseConfig({
    router: { source: 'test:router.yaml', text: router },
    policies: { source: 'test:policies.yaml', text: policies },
  });
  return compileSnapshot(config, { version, sourceRevision: 'test', createdAt: new Date(1_700_000_000_000) });
}

export function buildTestPolicy(options: TestPolicyOptions = {}): RuntimePolicy {
  return compileRuntimePolicy(buildTestSnapshot(options));
}
