import type { OutboxRecord } from './outbox-record.js';

/**
 * Where the shipper delivers records. `send` resolves once every record is durably accepted downstream and
 * rejects otherwise; on rejection the shipper retries the whole batch, so a transport must tolerate (and
 * its consumers dedupe, by `key`) records sent twice. Records arrive in seq order.
 */
export interface OutboxTransport {
  send(records: readonly OutboxRecord[]): Promise<void>;
}
