// What bench/inference-overhead.ts sends and the policy it runs under: one small chat-completions body with
// the demo key, and the demo tenant without limits.
import { writeFileSync } from 'node:fs';
import { hashApiKey } from '@api-router/auth';
import { DEMO_API_KEY, DEMO_MODEL } from '../test/support/inference-config.js';
import type { PlaneWorkspace } from '../test/support/planes.js';

export const BODY = JSON.stringify({ model: DEMO_MODEL, messages: [{ role: 'user', content: 'Hello' }] });
export const HEADERS = { authorization: `Bearer ${DEMO_API_KEY}`, 'content-type': 'application/json' };

// The demo key as in configs/policies.sample.yaml, minus its limits: 600 requests/min and 16 concurrent
// would turn a load test into a 429 test. Auth (hash lookup, constant-time compare) is exactly the same.
export function writeBenchPolicies(workspace: PlaneWorkspace): void {
  writeFileSync(
    workspace.policiesConfig,
    [
      'tenants:',
      '  - id: demo',
      '    displayName: Demo tenant (benchmark, no limits)',
      'apiKeys:',
      '  - publicId: rk_demo01',
      `    secretSha256: ${hashApiKey(DEMO_API_KEY).toString('hex')}`,
      '    tenant: demo',
      "    allowedModels: ['*']",
      '',
    ].join('\n'),
  );
}
