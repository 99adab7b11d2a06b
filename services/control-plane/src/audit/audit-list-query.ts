import { AuditEventKind } from '@api-router/contracts';
import type { AuditEventFilter, AuditPageCursor } from './audit-store.js';

/** A parameterised SELECT over audit_events returning event_id, at_ms and record. */
export interface AuditListQuery {
  sql: string;
  parameters: (string | number)[];
}

/**
 * The one SQL text of `AuditStore.list`, shared by the SQLite and Postgres stores so both order and page
 * alike: newest first by (at_ms, event_id), keyset pagination with a row-value comparison (both databases
 * support it and use the (at_ms, event_id) indexes for it). Asks for `limit + 1` rows: the extra one only
 * tells whether a next page exists.
 *
 * @param placeholder renders the n-th (1-based) parameter: `?` for SQLite, `$n` for Postgres.
 */
export function buildAuditListQuery(
  filter: AuditEventFilter,
  page: { limit: number; after?: AuditPageCursor | undefined },
  placeholder: (index: number) => string,
): AuditListQuery {
  const parameters: (string | number)[] = [];
  const parameter = (value: string | number): string => {
    parameters.push(value);
    return placeholder(parameters.length);
  };
  const conditions: string[] = [];
  if (filter.tenantId !== undefined && filter.tenantId !== '') {
    conditions.push(`tenant_id = ${parameter(filter.tenantId)}`);
  }
  if (filter.kind !== undefined && filter.kind !== AuditEventKind.UNSPECIFIED) {
    conditions.push(`kind = ${parameter(filter.kind)}`);
  }
  if (filter.sinceMs !== undefined) conditions.push(`at_ms >= ${parameter(filter.sinceMs)}`);
  if (page.after !== undefined) {
    conditions.push(`(at_ms, event_id) < (${parameter(page.after.atMs)}, ${parameter(page.after.eventId)})`);
  }
  const where = conditions.length === 0 ? '' : ` WHERE ${conditions.join(' AND ')}`;
  const sql =
    `SELECT event_id, at_ms, record FROM audit_events${where}` +
    ` ORDER BY at_ms DESC, event_id DESC LIMIT ${parameter(page.limit + 1)}`;
  return { sql, parameters };
}
