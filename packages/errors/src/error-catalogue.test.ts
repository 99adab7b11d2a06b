import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE, ERROR_CODES } from './error-codes.js';
import { RouterError, toRouterError } from './router-error.js';

// fastify keeps its error list honest with a test against its docs; this does the same for docs/errors.md.
function documentedCodes(): Map<string, { status: number; retryable: boolean }> {
  const markdown = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
  const rows = new Map<string, { status: number; retryable: boolean }>();
  for (const match of markdown.matchAll(/^\|\s*`([a-z_]+)`\s*\|\s*(\d{3})\s*\|\s*(yes|no)\s*\|/gm)) {
    rows.set(match[1]!, { status: Number(match[2]), retryable: match[3] === 'yes' });
  }
  return rows;
}

describe('error catalogue', () => {
  it('lists exactly the codes documented in docs/errors.md, with the same status and retryable flag', () => {
    const documented = documentedCodes();
    expect([...documented.keys()].sort()).toEqual([...ERROR_CODES].sort());
    for (const code of ERROR_CODES) {
      const entry = ERROR_CATALOGUE[code];
      expect(documented.get(code), code).toEqual({ status: entry.status, retryable: entry.retryable });
    }
  });

  it('builds errors carrying the catalogue status and keeps the cause internal', () => {
    const cause = new Error('redis timeout');
    const error = new RouterError('dependency_unavailable', { cause, retryAfterSeconds: 1 });
    expect(error.status).toBe(503);
    expect(error.retryable).toBe(true);
    expect(error.cause).toBe(cause);
    expect(error.message).not.toContain('redis');
  });

  it('turns unknown throwables into internal errors and passes router errors through', () => {
    const known = new RouterError('rate_limited');
    expect(toRouterError(known)).toBe(known);
    const converted = toRouterError('boom');
    expect(converted.code).toBe('internal');
    expect(converted.status).toBe(500);
  });
});
