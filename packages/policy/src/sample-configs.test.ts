import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compileRuntimePolicy } from './compile-runtime-policy.js';
import { compileSnapshot } from './compile-snapshot.js';
import { hashSecret } from './hash-secret.js';
import { parseConfig } from './parse-config.js';
import { pickTarget } from './pick-target.js';

// The sample configs ship in configs/ and the README prints their demo credentials: keep both in sync.
const DEMO_API_KEY = 'rk_demo01.demo-secret-change-me';
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

  it('hold the hashes of the documented demo credentials', () => {
    expect(config.policies.apiKeys[0]?.secretSha256).toBe(hashSecret(DEMO_API_KEY));
    expect(config.router.admin.tokens).toEqual([
      { id: 'demo-admin', sha256: hashSecret(DEMO_ADMIN_TOKEN), role: 'admin' },
    ]);
  });
});
