import { readFileSync, writeFileSync } from 'node:fs';
import { hashApiKey } from '@api-router/auth';

// Edits of the copies of configs/*.sample.yaml in a plane workspace, for tests and benchmarks that send
// inference traffic. Plain text edits keep the samples' comments and layout, so a failing run's files read
// like the samples they came from.

/** The demo API key of configs/policies.sample.yaml (demo only; printed by the README and start-local). */
export const DEMO_API_KEY = 'rk_demo01.YmUUyWFXfjfbBZ-cVLPCiTtQOV2YgbSUDT9XKQxfTGA';
/** The part of {@link DEMO_API_KEY} that must never appear in logs, metrics, caches or state files. */
export const DEMO_KEY_SECRET = 'YmUUyWFXfjfbBZ-cVLPCiTtQOV2YgbSUDT9XKQxfTGA';
/** The model the sample route serves (backends mock-a 70 %, mock-b 30 %). */
export const DEMO_MODEL = 'demo-chat';

/**
 * Points the backends of a router.yaml copy at running servers: `{ 'mock-a': 'http://127.0.0.1:41234' }`
 * sets mock-a's baseUrl to that origin + `/v1`. Throws when a backend id is not in the file.
 */
export function pointBackendsAt(routerConfig: string, origins: Readonly<Record<string, string>>): void {
  let text = readFileSync(routerConfig, 'utf8');
  for (const [id, origin] of Object.entries(origins)) {
    const pattern = new RegExp(`(- id: ${id}\\n\\s+baseUrl: )\\S+`);
    if (!pattern.test(text)) throw new Error(`${routerConfig}: no backend "${id}" followed by its baseUrl`);
    text = text.replace(pattern, `$1${origin}/v1`);
  }
  writeFileSync(routerConfig, text);
}

export interface ExtraApiKey {
  /** The whole key, `<publicId>.<secret>`; only its sha256 is written. */
  key: string;
  tenant: string;
  allowedModels?: readonly string[];
  /** `env:NAME` / `file:/path` references of hmac-sha256 secrets (RFC 9421 keyid = the public id). */
  signingSecretRefs?: readonly string[];
}

/** Adds a tenant without limits as the first entry of a policies.yaml copy. */
export function addTenant(policiesConfig: string, tenantId: string): void {
  edit(policiesConfig, 'tenants:\n', `  - id: ${tenantId}\n    displayName: Added by a test\n`);
}

/** Adds an API key without limits as the first entry of a policies.yaml copy. */
export function addApiKey(policiesConfig: string, apiKey: ExtraApiKey): void {
  const publicId = apiKey.key.slice(0, apiKey.key.indexOf('.'));
  const lines = [
    `  - publicId: ${publicId}`,
    `    secretSha256: ${hashApiKey(apiKey.key).toString('hex')}`,
    `    tenant: ${apiKey.tenant}`,
    `    allowedModels: ${JSON.stringify(apiKey.allowedModels ?? ['*'])}`,
  ];
  if (apiKey.signingSecretRefs !== undefined) {
    lines.push(`    signingSecretRefs: ${JSON.stringify(apiKey.signingSecretRefs)}`);
  }
  edit(policiesConfig, 'apiKeys:\n', `${lines.join('\n')}\n`);
}

function edit(file: string, anchor: string, insertion: string): void {
  const text = readFileSync(file, 'utf8');
  if (!text.includes(anchor)) throw new Error(`${file}: no "${anchor.trim()}" section`);
  writeFileSync(file, text.replace(anchor, `${anchor}${insertion}`));
}
