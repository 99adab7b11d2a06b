import { join } from 'node:path';
import { Backlog } from './backlog.js';
import type { CorruptionReporter } from './corruption-reporter.js';
import { scanFrames } from './frame-scan.js';
import { syncDirectory, type OutboxFs } from './outbox-fs.js';
import { emitEvent, type OutboxEvents, type OutboxLogger } from './outbox-events.js';
import { parseSegmentFileName } from './segment-file-name.js';
import type { SegmentInfo } from './segment-info.js';

export interface RecoveryDeps {
  fs: OutboxFs;
  directory: string;
  fsync: boolean;
  reporter: CorruptionReporter;
  events: OutboxEvents;
  logger: OutboxLogger | undefined;
}

export interface RecoveredSegments {
  /** Surviving segments, oldest first; the last one is where appends continue. */
  segments: SegmentInfo[];
  backlog: Backlog;
  /** Highest seq found in any surviving segment (0 when none). */
  lastSeq: number;
}

/**
 * Brings the segment files back to a consistent state after any kind of stop:
 * - sealed segments wholly at or below the ack cursor are deleted unread (a crash can leave them behind);
 * - every sealed segment is checksummed frame by frame; corrupt regions followed by valid frames are reported
 *   and skipped, never fatal; undecodable bytes at its end are reported as corruption;
 * - the newest segment is read up to its first frame that does not decode: from there on it is a torn write
 *   (a crash mid-append, which no caller saw succeed; after a power loss, bytes written since the last
 *   fdatasync) and is truncated away unread. Searching that tail for the next valid frame could accept a
 *   frame forged in a torn record's payload (client-supplied text) as a record.
 */
export async function recoverSegments(deps: RecoveryDeps, ackedSeq: number): Promise<RecoveredSegments> {
  const found = (await deps.fs.readdir(deps.directory))
    .map((name) => ({ name, firstSeq: parseSegmentFileName(name) }))
    .filter((entry): entry is { name: string; firstSeq: number } => entry.firstSeq !== undefined)
    .sort((a, b) => a.firstSeq - b.firstSeq);
  const live = await deleteAckedSegments(deps, found, ackedSeq);
  const backlog = new Backlog();
  const segments: SegmentInfo[] = [];
  let lastSeq = 0;
  for (const [index, entry] of live.entries()) {
    const next = live[index + 1];
    const isNewest = next === undefined;
    const buffer = await deps.fs.readFile(join(deps.directory, entry.name));
    const scan = scanFrames(buffer, {
      minSeqExclusive: Math.max(entry.firstSeq - 1, lastSeq),
      maxSeq: isNewest ? Number.MAX_SAFE_INTEGER : next.firstSeq - 1,
      stopAtBadFrame: isNewest,
      onRecord: (record, _offset, frameBytes) => {
        lastSeq = record.seq;
        if (record.seq > ackedSeq) backlog.add(record.seq, frameBytes, record.appendedAtMs);
        return true;
      },
    });
    for (const region of scan.skipped) deps.reporter.report({ file: entry.name, ...region });
    let sizeBytes = buffer.length;
    if (scan.tail !== undefined) {
      const tailBytes = buffer.length - scan.tail.offset;
      if (isNewest) {
        await truncateTornTail(deps, entry.name, scan.tail.offset);
        sizeBytes = scan.tail.offset;
        const report = {
          file: entry.name,
          offset: scan.tail.offset,
          truncatedBytes: tailBytes,
          reason: scan.tail.reason,
        };
        deps.logger?.warn(report, 'outbox: truncated a torn write at the end of the newest segment');
        emitEvent(deps.events, deps.logger, 'onTornTail', report);
      } else {
        deps.reporter.report({
          file: entry.name,
          offset: scan.tail.offset,
          skippedBytes: tailBytes,
          reason: scan.tail.reason,
        });
      }
    }
    segments.push({ firstSeq: entry.firstSeq, name: entry.name, sizeBytes });
  }
  return { segments, backlog, lastSeq };
}

async function deleteAckedSegments(
  deps: RecoveryDeps,
  found: { name: string; firstSeq: number }[],
  ackedSeq: number,
): Promise<{ name: string; firstSeq: number }[]> {
  let deleted = 0;
  // The newest segment always survives: appends continue in it.
  while (deleted < found.length - 1 && found[deleted + 1]!.firstSeq - 1 <= ackedSeq) {
    await deps.fs.unlink(join(deps.directory, found[deleted]!.name));
    deleted += 1;
  }
  if (deleted > 0 && deps.fsync) await syncDirectory(deps.fs, deps.directory);
  return found.slice(deleted);
}

async function truncateTornTail(deps: RecoveryDeps, name: string, length: number): Promise<void> {
  const file = await deps.fs.open(join(deps.directory, name), 'r+');
  try {
    await file.truncate(length);
    if (deps.fsync) await file.datasync();
  } finally {
    await file.close();
  }
}
