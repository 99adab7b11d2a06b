import { emitEvent, type CorruptionReport, type OutboxEvents, type OutboxLogger } from './outbox-events.js';

/**
 * Reports corrupt regions loudly (error log + `onCorruption`), once per region per process: recovery and
 * later reads of the same sealed segment would otherwise report the same bytes again and again.
 */
export class CorruptionReporter {
  private readonly seen = new Set<string>();
  private total = 0;

  constructor(
    private readonly events: OutboxEvents,
    private readonly logger: OutboxLogger | undefined,
  ) {}

  report(report: CorruptionReport): void {
    const id = `${report.file}:${report.offset}`;
    if (this.seen.has(id)) return;
    this.seen.add(id);
    this.total += 1;
    this.logger?.error({ ...report }, 'outbox corruption: skipped bytes that failed their checksum');
    emitEvent(this.events, this.logger, 'onCorruption', report);
  }

  /** Distinct corrupt regions reported so far. */
  get count(): number {
    return this.total;
  }
}
