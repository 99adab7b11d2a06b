import { createHash, timingSafeEqual } from 'node:crypto';
import type { Interceptor } from '@connectrpc/connect';
import { RouterError } from '@api-router/errors';
import type { AdminRole, AdminTokenConfig } from '@api-router/policy';
import type { Logger } from 'pino';
import { adminPrincipalKey, type AdminPrincipal } from './request-context.js';

/** Role each AdminService method needs. Methods not listed need "admin" (fail closed). */
export const ADMIN_METHOD_ROLES: Readonly<Record<string, AdminRole>> = {
  GetEffectivePolicy: 'viewer',
  ListDataPlanes: 'viewer',
  GetConfigStatus: 'viewer',
  GetRequestAudit: 'viewer',
  ListAuditEvents: 'viewer',
  GetBudget: 'viewer',
  TopUpBudget: 'operator',
  ResetBudget: 'operator',
  SetBudgetLimit: 'operator',
};

const ROLE_RANK: Readonly<Record<AdminRole, number>> = { viewer: 0, operator: 1, admin: 2 };

export interface AdminAuthOptions {
  /** Current admin tokens (sha256 hashes from router.yaml); read per call so config reloads apply at once. */
  tokens: () => readonly AdminTokenConfig[];
  logger: Logger;
  methodRoles?: Readonly<Record<string, AdminRole>>;
}

/**
 * Checks `Authorization: Bearer <token>` on every call it wraps: the token's sha256 must equal a configured
 * hash (compared in constant time, against every entry) and its role must rank at least the method's.
 * Throws RouterError `unauthenticated` (missing/unknown token) or `permission_denied` (role too low); the
 * error interceptor renders them. On success the principal is put in the context (`adminPrincipalKey`).
 */
export function createAdminAuthInterceptor(options: AdminAuthOptions): Interceptor {
  const methodRoles = options.methodRoles ?? ADMIN_METHOD_ROLES;
  return (next) => async (request) => {
    const method = request.method.name;
    const principal = authenticate(request.header.get('authorization'), options.tokens());
    if (principal === undefined) {
      options.logger.warn({ method }, 'admin call with a missing or unknown token');
      throw new RouterError('unauthenticated', { message: 'missing or invalid admin token' });
    }
    const required = methodRoles[method] ?? 'admin';
    if (ROLE_RANK[principal.role] < ROLE_RANK[required]) {
      options.logger.warn(
        { method, tokenId: principal.tokenId, role: principal.role, required },
        'admin call denied',
      );
      throw new RouterError('permission_denied', { message: `${method} needs the ${required} role` });
    }
    request.contextValues.set(adminPrincipalKey, principal);
    return next(request);
  };
}

function authenticate(
  header: string | null,
  tokens: readonly AdminTokenConfig[],
): AdminPrincipal | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (match?.[1] === undefined) return undefined;
  const presented = createHash('sha256').update(match[1], 'utf8').digest();
  let found: AdminTokenConfig | undefined;
  // No early exit: the time taken does not depend on which entry (if any) matches.
  for (const token of tokens) {
    const expected = Buffer.from(token.sha256, 'hex');
    if (expected.length === presented.length && timingSafeEqual(expected, presented)) found ??= token;
  }
  return found === undefined ? undefined : { tokenId: found.id, role: found.role };
}
