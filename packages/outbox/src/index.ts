export {
  Outbox,
  type OutboxOptions,
  type OutboxState,
  type OutboxSyncMode,
  type OutboxSyncStats,
} from './outbox.js';
export type { MemoryTailLimits } from './memory-tail.js';
export type { OutboxAppend, OutboxRecord } from './outbox-record.js';
export { OutboxError, OutboxFullError, type OutboxErrorCode } from './outbox-error.js';
export type {
  CommitReport,
  CorruptionReport,
  OutboxEvents,
  OutboxLogger,
  SyncReport,
  TornTailReport,
} from './outbox-events.js';
export type { BacklogStats } from './backlog.js';
export type { ReadLimits } from './segment-reader.js';
export { createNodeOutboxFs, type OutboxFile, type OutboxFs } from './outbox-fs.js';
export { createSystemClock, type Clock, type TimerHandle } from './clock.js';
export { ManualClock } from './manual-clock.js';
export {
  Shipper,
  type ShipperLag,
  type ShipperOptions,
  type ShipperOutbox,
  type ShipperState,
} from './shipper.js';
export { DEFAULT_BACKOFF_POLICY, type BackoffPolicy } from './backoff-policy.js';
export type { OutboxTransport } from './outbox-transport.js';
export { createCallbackTransport } from './callback-transport.js';
export {
  createKafkaTransport,
  OUTBOX_SEQ_HEADER,
  type KafkaTransport,
  type KafkaTransportOptions,
} from './kafka-transport.js';
