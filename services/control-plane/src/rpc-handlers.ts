import { createContextValues, type ConnectRouter } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { AdminService, PolicySyncService, RecordIngestService } from '@api-router/contracts';
import type { Logger } from 'pino';
import { createAdminAuthInterceptor } from './admin-auth-interceptor.js';
import { createAdminService, type AdminServiceDeps } from './admin-service.js';
import { createErrorInterceptor } from './error-interceptor.js';
import type { NodeHandler } from './http-servers.js';
import { createPolicySyncService, type PolicySyncServiceDeps } from './policy-sync-service.js';
import { createRecordIngestService, type RecordIngestServiceDeps } from './record-ingest-service.js';
import { peerKey } from './request-context.js';
import type { AdminTokenConfig } from '@api-router/policy';

/**
 * Largest request body AdminService and PolicySyncService read. Connect buffers a unary body whole before
 * any interceptor (the admin token check included) runs, 4 GiB by default: without a limit anyone reaching
 * a port could make the control plane hold gigabytes. Their requests are ids, a reason (at most 1000
 * characters) and a few numbers.
 */
export const MAX_ADMIN_REQUEST_BYTES = 1024 * 1024;

/**
 * Largest IngestRecords body. A data plane's shipper sends batches of up to 1 MiB of records, or a single
 * record on its own up to the outbox's 4 MiB record limit (packages/outbox); this leaves room for both with
 * margin. A batch above it would be refused for ever, so it must stay above what data planes send.
 */
export const MAX_INGEST_REQUEST_BYTES = 16 * 1024 * 1024;

export interface RpcHandlersOptions {
  policySync: PolicySyncServiceDeps;
  recordIngest: RecordIngestServiceDeps;
  admin: AdminServiceDeps & { tokens: () => readonly AdminTokenConfig[] };
  /** Aborting it aborts every handler's signal: open WatchPolicy streams end. */
  shutdownSignal: AbortSignal;
  /** Serves non-RPC paths on the HTTP/1.1 listener. */
  httpFallback: NodeHandler;
  logger: Logger;
}

/**
 * ConnectRPC routes of the two listeners. The HTTP/2 listener (no fallback: unknown paths are 404) serves
 * every service; the HTTP/1.1 listener (fallback to /metrics, /healthz, /readyz) serves AdminService only.
 * The error interceptor is the outermost on every service, so it also renders the admin auth interceptor's
 * errors. Only AdminService has the admin auth interceptor: data planes call PolicySyncService and
 * RecordIngestService without a token (mTLS between the planes comes later, ADR 0002), on the gRPC port
 * operators keep private; the HTTP/1.1 port is the one handed to admins' curl and Prometheus, where those
 * two would let anyone write into the usage ledger or read the whole snapshot. AdminService's JSON requests
 * (curl) must not carry unknown fields or enum names: `invalid_argument` rather than a call that silently
 * drops them. Request bodies are bounded (MAX_ADMIN_REQUEST_BYTES, MAX_INGEST_REQUEST_BYTES): a larger one
 * is `resource_exhausted`, refused before it is read whole.
 */
export function createRpcHandlers(options: RpcHandlersOptions): {
  grpcHandler: NodeHandler;
  httpHandler: NodeHandler;
} {
  const errors = createErrorInterceptor(options.logger);
  const adminAuth = createAdminAuthInterceptor({ tokens: options.admin.tokens, logger: options.logger });
  const policySync = createPolicySyncService(options.policySync);
  const recordIngest = createRecordIngestService(options.recordIngest);
  const admin = createAdminService(options.admin);
  const adminRoutes = (router: ConnectRouter): void => {
    router.service(AdminService, admin, {
      interceptors: [errors, adminAuth],
      readMaxBytes: MAX_ADMIN_REQUEST_BYTES,
      // Connect ignores unknown JSON fields and enum names by default: an operator's typo in a curl body
      // ("idempotencykey", "kind": "BUDGET_DENIED") would run the call without it. Refused instead.
      jsonOptions: { ignoreUnknownFields: false },
    });
  };
  const allRoutes = (router: ConnectRouter): void => {
    router.service(PolicySyncService, policySync, {
      interceptors: [errors],
      readMaxBytes: MAX_ADMIN_REQUEST_BYTES,
    });
    router.service(RecordIngestService, recordIngest, {
      interceptors: [errors],
      readMaxBytes: MAX_INGEST_REQUEST_BYTES,
    });
    adminRoutes(router);
  };
  const common = {
    shutdownSignal: options.shutdownSignal,
    contextValues: (request: {
      socket: { remoteAddress?: string | undefined; remotePort?: number | undefined };
    }) => createContextValues().set(peerKey, peerOf(request.socket)),
  };
  return {
    grpcHandler: connectNodeAdapter({ ...common, routes: allRoutes }),
    httpHandler: connectNodeAdapter({ ...common, routes: adminRoutes, fallback: options.httpFallback }),
  };
}

function peerOf(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): string {
  if (socket.remoteAddress === undefined) return '';
  const host = socket.remoteAddress.includes(':') ? `[${socket.remoteAddress}]` : socket.remoteAddress;
  return socket.remotePort === undefined ? host : `${host}:${socket.remotePort}`;
}
