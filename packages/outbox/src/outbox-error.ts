/**
 * Why an outbox call failed:
 * - `full`: the outbox is at its size limit (the shipper is behind or its transport is down); nothing was written.
 * - `closed`: the outbox was closed before the append was committed.
 * - `failed`: an fsync or an unrecoverable write error; after a failed fsync the kernel may have dropped the
 *   dirty pages, so the outbox refuses further appends until it is reopened (which re-validates the files).
 * - `write_failed`: this batch's write failed (ENOSPC, EIO) and was cut back; the outbox stays usable.
 * - `invalid_record`: the record cannot be stored (key or topic over 65 535 bytes, payload over the limit).
 */
export type OutboxErrorCode = 'full' | 'closed' | 'failed' | 'write_failed' | 'invalid_record';

/** The outbox's error type; `code` says which failure (see `OutboxErrorCode`). */
export class OutboxError extends Error {
  readonly code: OutboxErrorCode;

  constructor(code: OutboxErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OutboxError';
    this.code = code;
  }
}

/**
 * The append would take the outbox over `maxBytes` on disk. Nothing was written: the caller decides what to
 * do (reject the request, serve without a record and alert …); the outbox never drops records silently.
 */
export class OutboxFullError extends OutboxError {
  readonly usedBytes: number;
  readonly maxBytes: number;

  constructor(usedBytes: number, maxBytes: number) {
    super('full', `outbox is full: ${usedBytes} of ${maxBytes} bytes used`);
    this.name = 'OutboxFullError';
    this.usedBytes = usedBytes;
    this.maxBytes = maxBytes;
  }
}
