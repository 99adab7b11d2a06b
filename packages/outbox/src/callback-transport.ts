import type { OutboxRecord } from './outbox-record.js';
import type { OutboxTransport } from './outbox-transport.js';

/**
 * A transport that hands each batch to `deliver` (for example an RPC to the control plane). The batch is
 * acked when `deliver` resolves and retried, whole, when it rejects.
 */
export function createCallbackTransport(
  deliver: (records: readonly OutboxRecord[]) => Promise<void>,
): OutboxTransport {
  return { send: (records) => deliver(records) };
}
