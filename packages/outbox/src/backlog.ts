/** What the outbox holds that the shipper has not acked yet. */
export interface BacklogStats {
  /** Committed records above the ack cursor. */
  records: number;
  /** Their size on disk, in bytes (frames included); approximate within a run, see `Backlog`. */
  bytes: number;
  /** `appendedAtMs` of the oldest of them, or undefined when there are none. */
  oldestAppendedAtMs: number | undefined;
}

interface Run {
  firstSeq: number;
  lastSeq: number;
  bytes: number;
  firstAppendedAtMs: number;
  lastAppendedAtMs: number;
}

/** Records per run: bounds how far a partial ack's byte and age estimates can be off. */
const MAX_RUN_RECORDS = 1024;

/**
 * Unacked committed records, summarised as runs of consecutive seqs so memory stays small however large the
 * backlog is. Counts are exact; when an ack ends inside a run, its bytes and oldest time are interpolated.
 */
export class Backlog {
  private readonly runs: Run[] = [];
  private head = 0;
  private records = 0;
  private bytes = 0;

  /** Adds a committed record; seqs must increase. */
  add(seq: number, frameBytes: number, appendedAtMs: number): void {
    const last = this.runs.length > this.head ? this.runs[this.runs.length - 1] : undefined;
    if (
      last !== undefined &&
      seq === last.lastSeq + 1 &&
      last.lastSeq - last.firstSeq + 1 < MAX_RUN_RECORDS
    ) {
      last.lastSeq = seq;
      last.bytes += frameBytes;
      last.lastAppendedAtMs = Math.max(last.lastAppendedAtMs, appendedAtMs);
    } else {
      this.runs.push({
        firstSeq: seq,
        lastSeq: seq,
        bytes: frameBytes,
        firstAppendedAtMs: appendedAtMs,
        lastAppendedAtMs: appendedAtMs,
      });
    }
    this.records += 1;
    this.bytes += frameBytes;
  }

  /** Drops every record with a seq at or below `seq`. */
  ackThrough(seq: number): void {
    while (this.head < this.runs.length) {
      const run = this.runs[this.head]!;
      if (run.firstSeq > seq) break;
      if (run.lastSeq <= seq) {
        this.records -= run.lastSeq - run.firstSeq + 1;
        this.bytes -= run.bytes;
        this.head += 1;
        continue;
      }
      const total = run.lastSeq - run.firstSeq + 1;
      const dropped = seq - run.firstSeq + 1;
      const droppedBytes = Math.round((run.bytes * dropped) / total);
      run.firstAppendedAtMs += Math.round(((run.lastAppendedAtMs - run.firstAppendedAtMs) * dropped) / total);
      run.firstSeq = seq + 1;
      run.bytes -= droppedBytes;
      this.records -= dropped;
      this.bytes -= droppedBytes;
      break;
    }
    if (this.head > 1024 && this.head * 2 > this.runs.length) {
      this.runs.splice(0, this.head);
      this.head = 0;
    }
  }

  stats(): BacklogStats {
    const oldest = this.runs[this.head];
    return { records: this.records, bytes: this.bytes, oldestAppendedAtMs: oldest?.firstAppendedAtMs };
  }
}
