import type { ServiceImpl } from '@connectrpc/connect';
import type { Logger } from 'pino';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import type { AdminService } from '@api-router/contracts';
import { RouterError } from '@api-router/errors';
import { decodeAuditPageToken, encodeAuditPageToken } from './audit/audit-page-token.js';
import type { AuditStore } from './audit/audit-store.js';

/** ListAuditEvents page size when the request asks for 0; larger requests are capped at MAX. */
export const DEFAULT_AUDIT_PAGE_SIZE = 100;
export const MAX_AUDIT_PAGE_SIZE = 1000;

export type AuditAdminHandlers = Pick<
  ServiceImpl<typeof AdminService>,
  'getRequestAudit' | 'listAuditEvents'
>;

/**
 * The audit lookups of AdminService (viewer role; the admin auth interceptor checks it). A store that fails
 * (database down, disk error) answers UNAVAILABLE (`dependency_unavailable`, safe to retry), its cause
 * logged here, as ingest does; never a bare INTERNAL.
 */
export function createAuditAdminHandlers(
  store: Pick<AuditStore, 'eventsForRequest' | 'usageForRequest' | 'list'>,
  logger: Logger,
): AuditAdminHandlers {
  const read = async <T>(lookup: string, call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (error: unknown) {
      logger.error({ err: error, lookup }, 'audit lookup: audit store failed');
      throw new RouterError('dependency_unavailable', {
        message: 'the audit store is unavailable; retry the lookup',
        cause: error,
      });
    }
  };
  return {
    async getRequestAudit(request) {
      if (request.requestId === '') {
        throw new RouterError('invalid_request', { message: 'request_id is required' });
      }
      const [events, usageRecords] = await read('getRequestAudit', () =>
        Promise.all([store.eventsForRequest(request.requestId), store.usageForRequest(request.requestId)]),
      );
      if (events.length === 0 && usageRecords.length === 0) {
        throw new RouterError('not_found', {
          message:
            `nothing is recorded for request id "${request.requestId}" (data planes ship their records ` +
            'asynchronously: a request from the last seconds may not have arrived yet)',
        });
      }
      // `usage` (one record) predates usage_records; older clients keep getting the first record there.
      return { events, usage: usageRecords[0], usageRecords };
    },

    async listAuditEvents(request) {
      const limit =
        request.pageSize === 0 ? DEFAULT_AUDIT_PAGE_SIZE : Math.min(request.pageSize, MAX_AUDIT_PAGE_SIZE);
      const filter = {
        tenantId: request.tenantId,
        kind: request.kind,
        sinceMs: request.since === undefined ? undefined : timestampMs(request.since),
      };
      const after = decodeAuditPageToken(request.pageToken);
      const page = await read('listAuditEvents', () => store.list(filter, { limit, after }));
      return {
        events: page.events,
        nextPageToken: page.next === undefined ? '' : encodeAuditPageToken(page.next),
      };
    },
  };
}
