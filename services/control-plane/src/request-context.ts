import { createContextKey } from '@connectrpc/connect';
import type { AdminRole } from '@api-router/policy';

/** Remote "address:port" of the connection carrying an RPC; "" when unknown. Set by the node adapter. */
export const peerKey = createContextKey<string>('', { description: 'remote address of the RPC connection' });

/** The admin token that authenticated an AdminService call (set by the admin auth interceptor). */
export interface AdminPrincipal {
  /** Id of the token entry in router.yaml (safe to log). */
  tokenId: string;
  role: AdminRole;
}

export const adminPrincipalKey = createContextKey<AdminPrincipal | undefined>(undefined, {
  description: 'authenticated admin token',
});
