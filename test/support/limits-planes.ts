import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashApiKey } from '@api-router/auth';
import { RESERVATION_SETTLEMENT_MARGIN_MS } from '@api-router/policy';
import { repoRoot, spawnProcess, type SpawnedProcess } from '@api-router/testing';
import { waitOrStop, type PlaneWorkspace } from './planes.js';

// Config edits and data-plane processes for the limits acceptance test (test/limits.e2e.test.ts).

/** An API key added to a policies.yaml copy: its full secret form and its public id. */
export interface LimitedKey {
  readonly key: string;
  readonly publicId: string;
}

/** Makes a key `rk_<name><random>.<secret>` (public ids must be unique per run and match rk_[a-z0-9]{4,32}). */
export function newKey(name: string): LimitedKey {
  const publicId = `rk_${name}${randomBytes(3).toString('hex')}`;
  return { key: `${publicId}.${randomBytes(24).toString('base64url')}`, publicId };
}

/**
 * Adds a tenant without limits of its own and keys with the given `limits:` blocks (YAML flow mappings) to
 * a policies.yaml copy.
 */
export function addLimitedKeys(
  policiesConfig: string,
  tenantId: string,
  keys: readonly { key: LimitedKey; limits: string }[],
): void {
  let text = readFileSync(policiesConfig, 'utf8');
  text = insertAfter(text, 'tenants:\n', `  - id: ${tenantId}\n    displayName: Limits acceptance test\n`);
  const entries = keys.map(({ key, limits }) =>
    [
      `  - publicId: ${key.publicId}`,
      `    secretSha256: ${hashApiKey(key.key).toString('hex')}`,
      `    tenant: ${tenantId}`,
      `    allowedModels: ['*']`,
      `    limits: ${limits}`,
      '',
    ].join('\n'),
  );
  text = insertAfter(text, 'apiKeys:\n', entries.join(''));
  writeFileSync(policiesConfig, text);
}

/**
 * Router settings and prices for the test: request deadline `deadlineMs` and the shortest reservation TTL
 * the config check accepts with it, deadline + RESERVATION_SETTLEMENT_MARGIN_MS (a crashed replica's
 * reservations are reclaimed after it), demo-chat priced at 0 per input token and 1000 USD per million
 * output tokens (1000 micros per output token: a request of 100 output tokens costs exactly 0.10).
 */
export function setLimitsRouterSettings(routerConfig: string, deadlineMs: number): void {
  const ttlMs = deadlineMs + RESERVATION_SETTLEMENT_MARGIN_MS;
  let text = readFileSync(routerConfig, 'utf8');
  text = replaceOnce(text, /defaultRequestTimeoutMs: \d+/, `defaultRequestTimeoutMs: ${deadlineMs}`);
  text = replaceOnce(text, /reservationTtlMs: \d+/, `reservationTtlMs: ${ttlMs}`);
  text = replaceOnce(text, /inputUsdPerMillionTokens: '[0-9.]+'/, `inputUsdPerMillionTokens: '0'`);
  text = replaceOnce(text, /outputUsdPerMillionTokens: '[0-9.]+'/, `outputUsdPerMillionTokens: '1000'`);
  writeFileSync(routerConfig, text);
}

function insertAfter(text: string, anchor: string, insertion: string): string {
  if (!text.includes(anchor)) throw new Error(`no "${anchor.trim()}" section`);
  return text.replace(anchor, `${anchor}${insertion}`);
}

function replaceOnce(text: string, pattern: RegExp, replacement: string): string {
  if (!pattern.test(text)) throw new Error(`router config: nothing matches ${String(pattern)}`);
  return text.replace(pattern, replacement);
}

export interface LimitsDataPlane {
  readonly id: string;
  readonly url: string;
  readonly process: SpawnedProcess;
}

/**
 * Starts a data plane process (from source) with its own cache and outbox directory, on the given Redis,
 * logging at debug level (its `limit decision` lines are the decision records), keeping up to a million
 * output lines (the default 5000 would drop records under load).
 */
export async function startLimitsDataPlane(
  workspace: PlaneWorkspace,
  id: string,
  env: Record<string, string>,
): Promise<LimitsDataPlane> {
  const cacheDir = join(workspace.dir, id);
  mkdirSync(cacheDir, { recursive: true });
  const process_ = await spawnProcess({
    command: process.execPath,
    args: ['--conditions=source', '--import', 'tsx', 'services/data-plane/src/main.ts'],
    cwd: repoRoot(),
    maxLines: 1_000_000,
    env: {
      ...process.env,
      LOG_LEVEL: 'debug',
      DP_ID: id,
      DP_PORT: '0',
      DP_CONTROL_PLANE_ADDRESS: `127.0.0.1:${workspace.grpcPort}`,
      DP_CACHE_DIR: cacheDir,
      DP_DRAIN_DELAY_MS: '0',
      ...env,
    },
  });
  const line = await waitOrStop(process_, (_, json) => json?.msg === 'listening' && json.server === 'public');
  return { id, url: String((JSON.parse(line) as { url: unknown }).url), process: process_ };
}

/** One `limit decision` record of a data plane's log. */
export interface DecisionRecord {
  readonly keyId: string;
  readonly allowed: boolean;
  /** Store (Redis TIME) milliseconds of the decision. */
  readonly decidedAtMs: number;
  readonly shared: boolean;
}

export function decisionRecords(dataPlane: LimitsDataPlane, keyId: string): DecisionRecord[] {
  return dataPlane.process.jsonLines().flatMap((json) => {
    const record = json.limitDecision as DecisionRecord | undefined;
    return json.msg === 'limit decision' && record?.keyId === keyId ? [record] : [];
  });
}

/** Most decisions of `times` (ms, any order) inside any window [t, t + windowMs). */
export function maxInWindow(times: readonly number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end += 1) {
    while (sorted[end]! - sorted[start]! >= windowMs) start += 1;
    most = Math.max(most, end - start + 1);
  }
  return most;
}
