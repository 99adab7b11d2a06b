import type { CheckResult } from '@api-router/limits';

/** The check ids whose numbers the headers report: the key's first, the tenant's when the key has none. */
export interface HeaderOwners {
  /** `key:<publicId>` */
  readonly keyCheckId: string;
  /** `tenant:<tenantId>` */
  readonly tenantCheckId: string;
}

/**
 * OpenAI's rate-limit headers from an admission's per-check numbers: `x-ratelimit-limit-requests`,
 * `-remaining-requests`, `-reset-requests` and the `-tokens` variants. Limits are per minute; remaining is
 * what is left after this request (when it was admitted); reset is the time until the bucket is full again,
 * in OpenAI's duration format ("1s", "6m0s", "250ms"). The key's check is reported when it has one, else
 * the tenant's; a kind without any check gets no headers. `decidedAtMs` is the store time of the decision
 * (reset times are store times, so the difference is clock-skew free).
 */
export function rateLimitHeaders(
  checks: readonly CheckResult[],
  decidedAtMs: number,
  owners: HeaderOwners,
): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const kind of ['requests', 'tokens'] as const) {
    const check = pick(checks, kind, owners);
    if (check === undefined) continue;
    headers[`x-ratelimit-limit-${kind}`] = String(check.limit);
    headers[`x-ratelimit-remaining-${kind}`] = String(check.remaining);
    const resetMs = check.resetAtMs === null ? 0 : Math.max(0, check.resetAtMs - decidedAtMs);
    headers[`x-ratelimit-reset-${kind}`] = formatOpenAIDuration(resetMs);
  }
  return headers;
}

function pick(
  checks: readonly CheckResult[],
  kind: 'requests' | 'tokens',
  owners: HeaderOwners,
): CheckResult | undefined {
  let tenant: CheckResult | undefined;
  for (const check of checks) {
    if (check.kind !== kind) continue;
    if (check.id === owners.keyCheckId) return check;
    if (check.id === owners.tenantCheckId) tenant = check;
  }
  return tenant;
}

/**
 * A duration as OpenAI writes it in `x-ratelimit-reset-*` (Go's time.Duration format): "0s", "250ms" below
 * a second, else hours, minutes and seconds with up to three decimals ("1s", "1.5s", "6m0s", "1h0m0s").
 * Milliseconds are rounded up, so a client that waits this long finds the limit reset.
 */
export function formatOpenAIDuration(durationMs: number): string {
  const ms = Math.max(0, Math.ceil(durationMs));
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const secondsMs = ms % 60_000;
  const seconds =
    secondsMs % 1000 === 0 ? String(secondsMs / 1000) : (secondsMs / 1000).toFixed(3).replace(/0+$/, '');
  if (hours > 0) return `${hours}h${minutes}m${seconds}s`;
  if (minutes > 0) return `${minutes}m${seconds}s`;
  return `${seconds}s`;
}
