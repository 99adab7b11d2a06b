import type { ServiceImpl } from '@connectrpc/connect';
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

/** The audit lookups of AdminService (viewer role; the admin auth interceptor checks it). */
export function createAuditAdminHandlers(
  store: Pick<AuditStore, 'eventsForRequest' | 'usageForRequest' | 'list'>,
): AuditAdminHandlers {
  return {
    async getRequestAudit(request) {
      if (request.requestId === '') {
        throw new RouterError('invalid_request', { message: 'request_id is required' });
      }
      const [events, usage] = await Promise.all([
        store.eventsForRequest(request.requestId),
        store.usageForRequest(request.requestId),
      ]);
      if (events.length === 0 && usage === undefined) {
        throw new RouterError('not_found', {
          message:
            `nothing is recorded for request id "${request.requestId}" (data planes ship their records ` +
            'asynchronously: a request from the last seconds may not have arrived yet)',
        });
      }
      return { events, usage };
    },

    async listAuditEvents(request) {
      const limit =
        request.pageSize === 0 ? DEFAULT_AUDIT_PAGE_SIZE : Math.min(request.pageSize, MAX_AUDIT_PAGE_SIZE);
      const page = await store.list(
        {
          tenantId: request.tenantId,
          kind: request.kind,
          sinceMs: request.since === undefined ? undefined : timestampMs(request.since),
        },
        { limit, after: decodeAuditPageToken(request.pageToken) },
      );
      return {
        events: page.events,
        nextPageToken: page.next === undefined ? '' : encodeAuditPageToken(page.next),
      };
    },
  };
}
