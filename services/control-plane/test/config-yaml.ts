import { createHash } from 'node:crypto';

/** Admin tokens the test configs accept. */
export const VIEWER_TOKEN = 'viewer-token-for-tests';
export const ADMIN_TOKEN = 'admin-token-for-tests';

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** A valid router.yaml; `weight` changes the content, `extra` appends raw YAML (e.g. an unknown field). */
export function routerYaml(options: { weight?: number; extra?: string } = {}): string {
  return `backends:
  - id: mock-a
    baseUrl: http://127.0.0.1:9101/v1
    provider: openai-compatible
routes:
  - id: demo-chat
    model: demo-chat
    targets:
      - backend: mock-a
        weight: ${options.weight ?? 1}
admin:
  tokens:
    - id: viewer
      sha256: ${sha256(VIEWER_TOKEN)}
      role: viewer
    - id: ops
      sha256: ${sha256(ADMIN_TOKEN)}
      role: admin
${options.extra ?? ''}`;
}

export const POLICIES_YAML = `tenants:
  - id: acme
    displayName: Acme Inc.
apiKeys: []
`;
