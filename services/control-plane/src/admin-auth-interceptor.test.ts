import { createHash } from 'node:crypto';
import { Code, ConnectError, createClient, createRouterTransport } from '@connectrpc/connect';
import { AdminService } from '@api-router/contracts';
import { createLogger } from '@api-router/observability';
import type { AdminTokenConfig } from '@api-router/policy';
import { describe, expect, it } from 'vitest';
import { createAdminAuthInterceptor } from './admin-auth-interceptor.js';
import { createErrorInterceptor } from './error-interceptor.js';
import { adminPrincipalKey, type AdminPrincipal } from './request-context.js';

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
const TOKENS: AdminTokenConfig[] = [
  { id: 'viewer-1', sha256: sha256('viewer-secret'), role: 'viewer' },
  { id: 'admin-1', sha256: sha256('admin-secret'), role: 'admin' },
];

function client(methodRoles?: Record<string, 'viewer' | 'operator' | 'admin'>) {
  const logger = createLogger({ service: 'test', level: 'silent' });
  const principals: (AdminPrincipal | undefined)[] = [];
  const transport = createRouterTransport((router) => {
    router.service(
      AdminService,
      {
        listDataPlanes: (_request, context) => {
          principals.push(context.values.get(adminPrincipalKey));
          return { dataPlanes: [] };
        },
        getConfigStatus: () => ({ publishedVersion: 1n }),
        getEffectivePolicy: () => {
          throw new Error('database password is hunter2');
        },
      },
      {
        interceptors: [
          createErrorInterceptor(logger),
          createAdminAuthInterceptor({
            tokens: () => TOKENS,
            logger,
            ...(methodRoles ? { methodRoles } : {}),
          }),
        ],
      },
    );
  });
  return { admin: createClient(AdminService, transport), principals };
}

async function codeOf(call: Promise<unknown>): Promise<Code | undefined> {
  try {
    await call;
    return undefined;
  } catch (error: unknown) {
    return ConnectError.from(error).code;
  }
}

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

describe('admin auth interceptor', () => {
  it('rejects a missing, malformed or unknown token as unauthenticated', async () => {
    const { admin } = client();
    expect(await codeOf(admin.listDataPlanes({}))).toBe(Code.Unauthenticated);
    expect(await codeOf(admin.listDataPlanes({}, { headers: { authorization: 'Basic abc' } }))).toBe(
      Code.Unauthenticated,
    );
    expect(await codeOf(admin.listDataPlanes({}, bearer('wrong')))).toBe(Code.Unauthenticated);
  });

  it('lets a viewer call viewer methods and names the principal', async () => {
    const { admin, principals } = client();
    expect(await codeOf(admin.listDataPlanes({}, bearer('viewer-secret')))).toBeUndefined();
    expect(await codeOf(admin.getConfigStatus({}, bearer('viewer-secret')))).toBeUndefined();
    expect(principals).toEqual([{ tokenId: 'viewer-1', role: 'viewer' }]);
  });

  it('denies a role below the method role, and fails closed for unlisted methods', async () => {
    const { admin } = client({ ListDataPlanes: 'operator' });
    expect(await codeOf(admin.listDataPlanes({}, bearer('viewer-secret')))).toBe(Code.PermissionDenied);
    expect(await codeOf(admin.listDataPlanes({}, bearer('admin-secret')))).toBeUndefined();
    expect(await codeOf(admin.getConfigStatus({}, bearer('viewer-secret')))).toBe(Code.PermissionDenied);
  });

  it('renders unexpected handler errors as a bare internal error', async () => {
    const { admin } = client();
    const error = await admin
      .getEffectivePolicy({}, bearer('viewer-secret'))
      .catch((caught: unknown) => ConnectError.from(caught));
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.Internal);
    expect((error as ConnectError).rawMessage).not.toContain('hunter2');
  });
});
