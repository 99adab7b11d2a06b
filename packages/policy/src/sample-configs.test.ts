import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compileRuntimePolicy } from './compile-runtime-policy.js';
import { compileSnapshot } from './compile-snapshot.js';
import { hashSecret } from './hash-secret.js';
import { parseConfig } from './parse-config.js';
import { buildLimitPlan } from './build-limit-plan.js';
import { pickTarget } from './pick-target.js';

// The sample configs ship in configs/ and the README prints their demo credentials: keep both in sync.
const DEMO_API_KEY = 'rk_demo01.YmUUyWFXfjfbBZ-cVLPCiTtQOV2YgbSUDT9XKQxfTGA';
const DEMO_ADMIN_TOKEN = 'admin-demo-token-change-me';

function readSample(name: string) {
  const path = fileURLToPath(new URL(`../../../configs/${name}`, import.meta.url));
  return { source: `configs/${name}`, text: readFileSync(path, 'utf8') };
}

describe('sample configs', () => {
  const config = parseConfig({
    router: readSample('router.sample.yaml'),
    policies: readSample('policies.sample.yaml'),
  });

  it('parse, compile and pass the data plane validation', () => {
    const snapshot = compileSnapshot(config, {
      version: 1n,
      sourceRevision: 'file:configs',
      createdAt: new Date(0),
    });
    const policy = compileRuntimePolicy(snapshot);
    const route = policy.routesByModel.get('demo-chat')!;
    expect(
      route.targets.map((target) => [target.backend.baseUrl, target.weight, target.upstreamModel]),
    ).toEqual([
      ['http://127.0.0.1:9101/v1', 70, 'mock-model'],
      ['http://127.0.0.1:9102/v1', 30, 'mock-model'],
    ]);
    expect(pickTarget(route, () => 0.5)?.backend.id).toBe('mock-a');
    expect(policy.apiKeysByPublicId.get('rk_demo01')?.tenantId).toBe('demo');
  });

  it('limit the demo key and tenant, and price the demo model', () => {
    const policy = compileRuntimePolicy(
      compileSnapshot(config, { version: 1n, sourceRevision: 'file:configs', createdAt: new Date(0) }),
    );
    expect(policy.priceFor('demo-chat', 'mock-b')).toEqual({
      inputMicrosPerMillion: 500_000,
      outputMicrosPerMillion: 1_500_000,
    });
    const plan = buildLimitPlan({
      tenant: { id: 'demo', limits: policy.limitsForTenant('demo') },
      key: { publicId: 'rk_demo01', limits: policy.limitsForKey('rk_demo01') },
    });
    expect(plan).toEqual({
      partition: 'demo',
      checks: [
        { kind: 'requests', id: 'key:rk_demo01', ratePerMinute: 600, burst: 60 },
        { kind: 'tokens', id: 'key:rk_demo01', tokensPerMinute: 200_000, burst: 50_000 },
        { kind: 'budget', id: 'tenant:demo:daily', limitMicros: 5_000_000, period: 'day' },
        { kind: 'concurrency', id: 'key:rk_demo01', max: 16 },
      ],
    });
    expect(policy.limitsForKey('rk_demo01')?.queue).toMatchObject({ maxWaitMs: 2000, maxLength: 32 });
  });

  it('hold the hashes of the documented demo credentials', () => {
    // The demo key has the real format (packages/auth generateApiKey): <publicId>.<43 base64url chars>.
    expect(DEMO_API_KEY).toMatch(/^rk_[a-z0-9]{4,32}\.[A-Za-z0-9_-]{43}$/);
    expect(config.policies.apiKeys[0]?.secretSha256).toBe(hashSecret(DEMO_API_KEY));
    expect(config.router.admin.tokens).toEqual([
      { id: 'demo-admin', sha256: hashSecret(DEMO_ADMIN_TOKEN), role: 'admin' },
    ]);
  });
});
