/** Structured logger the outbox writes to; a pino `Logger` fits. */
export interface OutboxLogger {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

/** Bytes that failed their checksum (or layout) and were skipped; records in them are lost unless re-sent. */
export interface CorruptionReport {
  /** File name inside the outbox directory. */
  file: string;
  offset: number;
  skippedBytes: number;
  reason: string;
}

/** A torn write at the end of the newest segment, cut off on open (the normal trace of a crash mid-append). */
export interface TornTailReport {
  file: string;
  offset: number;
  truncatedBytes: number;
  reason: string;
}

/** One group commit: `records` appends made durable by one write (+ fdatasync in the per-batch mode) that took `durationMs`. */
export interface CommitReport {
  records: number;
  bytes: number;
  durationMs: number;
}

/** One background fdatasync of the interval durability mode: `records` made durable in `durationMs`. */
export interface SyncReport {
  records: number;
  bytes: number;
  durationMs: number;
}

/** Hooks for metrics; each is optional and must not throw (a throwing hook is caught and logged). */
export interface OutboxEvents {
  /** A batch written (per-batch mode: and fdatasynced); `durationMs` covers what the appends waited for. */
  onCommit?(report: CommitReport): void;
  /** Interval mode: a background fdatasync finished. */
  onSync?(report: SyncReport): void;
  /** Mid-segment corruption: page someone, the disk may be failing. Reported once per region per process. */
  onCorruption?(report: CorruptionReport): void;
  onTornTail?(report: TornTailReport): void;
}

/** Calls a hook, logging instead of propagating a hook's own failure (metrics must never break appends). */
export function emitEvent<K extends keyof OutboxEvents>(
  events: OutboxEvents,
  logger: OutboxLogger | undefined,
  name: K,
  report: Parameters<NonNullable<OutboxEvents[K]>>[0],
): void {
  const hook = events[name] as ((value: typeof report) => void) | undefined;
  if (hook === undefined) return;
  try {
    hook.call(events, report);
  } catch (error: unknown) {
    logger?.error({ err: error, hook: name }, 'outbox event hook threw');
  }
}
