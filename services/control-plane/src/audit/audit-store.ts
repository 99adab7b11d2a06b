import type { AuditEvent, AuditEventKind, UsageRecord } from '@api-router/contracts';

/**
 * A record a data plane shipped, ready to be stored. `encoded`, when present, is the record's protobuf bytes
 * as the data plane sent them and equal in content to the decoded message: stored as they are (no
 * re-encoding). Absent, the store encodes the message.
 */
export type StorableRecord =
  | { type: 'audit'; event: AuditEvent; encoded?: Uint8Array }
  | { type: 'usage'; usage: UsageRecord; encoded?: Uint8Array };

/** What one `ingest` call did. A record already stored (same event_id / record id) is a duplicate. */
export interface IngestOutcome {
  storedAudit: number;
  storedUsage: number;
  duplicates: number;
}

/** What one `prune` call deleted. */
export interface PruneOutcome {
  audit: number;
  usage: number;
}

/** Filters of `list`; every field narrows the result, unset fields do not. */
export interface AuditEventFilter {
  /** Only this tenant's events; '' or undefined for all. */
  tenantId?: string | undefined;
  /** Only this kind; undefined (or UNSPECIFIED) for all. */
  kind?: AuditEventKind | undefined;
  /** Only events whose `at` is at or after this, in ms since the epoch (millisecond precision). */
  sinceMs?: number | undefined;
}

/** Position after the last event of a page (events are ordered by `at` ms, then event_id, descending). */
export interface AuditPageCursor {
  atMs: number;
  eventId: string;
}

export interface AuditEventPage {
  events: AuditEvent[];
  /** Where the next page starts; undefined on the last page. */
  next: AuditPageCursor | undefined;
}

/** Most usage records {@link AuditStore.usageForRequest} returns for one request id (the oldest ones). */
export const MAX_USAGE_RECORDS_PER_REQUEST = 100;
/** Most audit events {@link AuditStore.eventsForRequest} returns for one request id (the oldest ones). */
export const MAX_EVENTS_PER_REQUEST = 1000;

/**
 * The key a usage record is deduplicated on: its `record_id`, or, for a record without one (from a data
 * plane older than that field), its `request_id` — those keep the old behaviour, one record per request id
 * (ADR 0011).
 */
export function usageRecordKey(usage: { recordId: string; requestId: string }): string {
  return usage.recordId === '' ? usage.requestId : usage.recordId;
}

/**
 * Durable store of the audit events and usage records that data planes ship from their outboxes, behind
 * the admin lookups. Two implementations pass one contract (audit-store-contract.test-support.ts): SQLite
 * in CP_STATE_DIR (embedded default) and Postgres (CP_DATABASE_URL). Every method rejects when the backing
 * database fails; nothing is retried inside (the outbox re-sends a failed batch).
 */
export interface AuditStore {
  /**
   * Stores the records, durably before it resolves. Idempotent: audit events are keyed by event_id and
   * usage records by record id ({@link usageRecordKey}: record_id, else request_id), never by request_id
   * alone — a client may reuse a request id and each of its requests is a record of its own. A record whose
   * key is already stored (also twice in one call) is skipped and counted as a duplicate, the first copy
   * wins.
   *
   * @param receivedAtMs when the control plane received the batch (ms since the epoch), kept per row.
   */
  ingest(records: readonly StorableRecord[], receivedAtMs: number): Promise<IngestOutcome>;
  /**
   * Audit events of a request id, oldest first (by `at` ms, then event_id), at most
   * {@link MAX_EVENTS_PER_REQUEST}; [] when none.
   */
  eventsForRequest(requestId: string): Promise<AuditEvent[]>;
  /**
   * Usage records of a request id, oldest first (by start ms, then record id), at most
   * {@link MAX_USAGE_RECORDS_PER_REQUEST}; [] when none. More than one when a client reused the request id.
   * A record stored without a record_id (older data plane, or stored before schema version 4) comes back
   * with record_id = its request id, the key it was deduplicated on.
   */
  usageForRequest(requestId: string): Promise<UsageRecord[]>;
  /** One page of events matching `filter`, newest first, starting after `page.after`. */
  list(
    filter: AuditEventFilter,
    page: { limit: number; after?: AuditPageCursor | undefined },
  ): Promise<AuditEventPage>;
  /**
   * Deletes at most `limit` usage records that started before `beforeMs` and at most `limit` audit events
   * that happened before it (ms since the epoch), for the retention setting. Operators' own changes
   * (`AUDIT_EVENT_KIND_ADMIN_CHANGE`, the budget change log's intents and outcomes) are never deleted.
   */
  prune(beforeMs: number, limit: number): Promise<PruneOutcome>;
  /** Releases the database (idempotent). Pending calls finish first. */
  close(): Promise<void>;
}
