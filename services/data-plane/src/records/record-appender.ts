import { RouterError } from '@api-router/errors';

/**
 * The part of the durable outbox (`Outbox` of @api-router/outbox) the recorders use: `append` resolves
 * with the record's seq once it is on stable storage (fdatasync), and rejects when it cannot be (full,
 * closed, failed, write error).
 */
export interface RecordAppender {
  append(record: { key: string; topic: string; payload: Uint8Array }): Promise<number>;
}

/**
 * Appends and resolves only once the record is durable. Any failure of the outbox (an `OutboxFullError`
 * when the backlog reached its byte cap because the transport is down too long, a closed or failed
 * outbox, a write error) rejects with a 503 `dependency_unavailable` RouterError carrying the cause: a
 * request whose record cannot be made durable is refused rather than served unaccounted.
 */
export async function appendDurably(
  appender: RecordAppender,
  record: { key: string; topic: string; payload: Uint8Array },
): Promise<void> {
  try {
    await appender.append(record);
  } catch (error: unknown) {
    throw new RouterError('dependency_unavailable', {
      message: 'The router cannot record this request right now.',
      cause: error,
      retryAfterSeconds: 1,
    });
  }
}
