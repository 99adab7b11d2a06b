import type { ServiceImpl } from '@connectrpc/connect';
import type { Logger } from 'pino';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import type { AdminService } from '@api-router/contracts';
import { RouterError } from '@api-router/errors';
import { decodeAuditPageToken, encodeAuditPageToken } from './audit/audit-page-token.js';
import type { AuditStore } from './audit/audit-store.js';
import { quoteForMessage } from './quote-for-message.js';
import { fieldWithNul, isTimestampOutOfRange } from './storable-values.js';

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
 * logged here, as ingest does; never a bare INTERNAL. Input no store could match (a NUL character, a time
 * outside the Timestamp range: storable-values.ts) is INVALID_ARGUMENT before the store is asked.
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
      refuseNul({ request_id: request.requestId });
      const [events, usageRecords] = await read('getRequestAudit', () =>
        Promise.all([store.eventsForRequest(request.requestId), store.usageForRequest(request.requestId)]),
      );
      if (events.length === 0 && usageRecords.length === 0) {
        throw new RouterError('not_found', {
          message:
            `nothing is recorded for request id ${quoteForMessage(request.requestId)} (data planes ship their records ` +
            'asynchronously: a request from the last seconds may not have arrived yet)',
        });
      }
      // `usage` (one record) predates usage_records; older clients keep getting the first record there.
      return { events, usage: usageRecords[0], usageRecords };
    },

    async listAuditEvents(request) {
      const limit =
        request.pageSize === 0 ? DEFAULT_AUDIT_PAGE_SIZE : Math.min(request.pageSize, MAX_AUDIT_PAGE_SIZE);
      refuseNul({ tenant_id: request.tenantId });
      if (request.since !== undefined && isTimestampOutOfRange(request.since)) {
        throw new RouterError('invalid_request', {
          message: 'since is outside the timestamp range (years 0001 to 9999)',
        });
      }
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

/** No stored record has a NUL in these fields (ingest refuses it) and Postgres refuses it as a parameter. */
function refuseNul(fields: Readonly<Record<string, string>>): void {
  const name = fieldWithNul(fields);
  if (name !== undefined) {
    throw new RouterError('invalid_request', { message: `${name} must not contain a NUL character` });
  }
}
