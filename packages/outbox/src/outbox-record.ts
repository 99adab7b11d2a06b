/** What a caller appends: `key` is the request id (the Kafka key consumers dedupe on), `topic` the logical kind. */
export interface OutboxAppend {
  /** Request id (or event id); UTF-8, at most 65 535 bytes. */
  key: string;
  /** Logical kind such as `usage` or `audit`; a transport maps it to its own destination. UTF-8, at most 65 535 bytes. */
  topic: string;
  /** The encoded message (protobuf bytes); the outbox never looks inside. */
  payload: Uint8Array;
}

/** A committed record as read back for shipping. */
export interface OutboxRecord extends OutboxAppend {
  /** Position in the outbox: strictly increasing, usually contiguous (gaps follow failed writes or corruption). */
  seq: number;
  /** Wall-clock milliseconds when `append` was called; survives restarts, feeds the oldest-pending-age metric. */
  appendedAtMs: number;
}
