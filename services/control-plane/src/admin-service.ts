import type { ServiceImpl } from '@connectrpc/connect';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { AdminService, PolicySnapshot } from '@api-router/contracts';
import type { Logger } from 'pino';
import { RouterError } from '@api-router/errors';
import { createAuditAdminHandlers } from './audit-admin-handlers.js';
import type { AuditStore } from './audit/audit-store.js';
import { createBudgetAdminHandlers, type BudgetAdminDeps } from './budget/budget-admin-handlers.js';
import type { DataPlaneRegistry } from './data-plane-registry.js';
import type { SnapshotPublisher } from './snapshot-publisher.js';

export interface AdminServiceDeps {
  publisher: Pick<SnapshotPublisher, 'current' | 'status'>;
  registry: Pick<DataPlaneRegistry, 'list'>;
  auditStore: Pick<AuditStore, 'eventsForRequest' | 'usageForRequest' | 'list'>;
  budgets: BudgetAdminDeps;
  logger: Logger;
}

/** AdminService calls. Authentication and roles are the admin auth interceptor's job. */
export function createAdminService(deps: AdminServiceDeps): ServiceImpl<typeof AdminService> {
  return {
    ...createAuditAdminHandlers(deps.auditStore, deps.logger),
    ...createBudgetAdminHandlers(deps.budgets),

    getEffectivePolicy() {
      const snapshot = deps.publisher.current();
      if (snapshot === undefined)
        throw new RouterError('not_ready', { message: 'no snapshot has been published yet' });
      return { snapshot: withoutKeyHashes(snapshot) };
    },

    listDataPlanes() {
      return { dataPlanes: deps.registry.list() };
    },

    getConfigStatus() {
      const status = deps.publisher.status();
      const error = status.lastError;
      return {
        publishedVersion: status.publishedVersion,
        sourceRevision: status.sourceRevision,
        lastError:
          error === undefined
            ? undefined
            : {
                source: error.source,
                path: error.path,
                message: error.message,
                line: error.line,
                at: timestampFromDate(error.at),
              },
      };
    },
  };
}

/**
 * The snapshot as an admin sees it: every API key's `secret_sha256` emptied. A viewer token must not be a
 * way to copy the hashes data planes authenticate against (an unsalted sha256 can be tested offline against
 * guesses); the names of secrets (credential and signing secret references) are no secret and stay. The
 * published snapshot is not touched: data planes still get the hashes.
 */
function withoutKeyHashes(snapshot: PolicySnapshot): PolicySnapshot {
  return {
    ...snapshot,
    apiKeys: snapshot.apiKeys.map((key) => ({ ...key, secretSha256: new Uint8Array(0) })),
  };
}
