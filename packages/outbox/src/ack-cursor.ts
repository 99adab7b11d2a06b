import { join } from 'node:path';
import { crc32c } from './crc32c.js';
import { syncDirectory, writeFully, type OutboxFs } from './outbox-fs.js';

/**
 * The committed "acked up to seq" cursor; replaced atomically (temp file + fsync + rename + directory fsync).
 * Content: `{"version":1,"ackedSeq":N,"crc32c":C}`, C the CRC-32C of N's decimal digits. A bit flip that
 * leaves valid digits would otherwise move the cursor forward and silently drop the records it skips. The
 * checksum is an added field, not a new version: a cursor without it (written before it existed) is still
 * accepted, and an older outbox reading a new cursor ignores the field (a rollback re-ships nothing).
 */
export const ACK_CURSOR_FILE = 'acked.json';
const TEMP_SUFFIX = '.tmp';

export interface AckCursorRead {
  ackedSeq: number;
  /**
   * Set when a cursor file existed but could not be used (unparsable, unrecognised, checksum mismatch);
   * `ackedSeq` is then 0 and the outbox re-ships everything still on disk: re-shipping is safe, losing is not.
   */
  problem: string | undefined;
}

/** The cursor's checksum: CRC-32C of the seq's decimal digits (ASCII), as an unsigned 32-bit integer. */
export function ackCursorChecksum(ackedSeq: number): number {
  return crc32c(Buffer.from(String(ackedSeq), 'latin1'));
}

/** Reads the cursor; a missing file is seq 0 (nothing acked). Never throws on a bad file: re-shipping is safe, losing is not. */
export async function readAckCursor(fileSystem: OutboxFs, directory: string): Promise<AckCursorRead> {
  let text: string;
  try {
    text = (await fileSystem.readFile(join(directory, ACK_CURSOR_FILE))).toString('utf8');
  } catch (error: unknown) {
    if (isNotFound(error)) return { ackedSeq: 0, problem: undefined };
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as { version?: unknown; ackedSeq?: unknown; crc32c?: unknown };
    if (parsed.version === 1 && Number.isSafeInteger(parsed.ackedSeq) && (parsed.ackedSeq as number) >= 0) {
      const ackedSeq = parsed.ackedSeq as number;
      // No checksum: a cursor written before it existed (the upgrade), accepted as it always was.
      if (!Object.hasOwn(parsed, 'crc32c') || parsed.crc32c === ackCursorChecksum(ackedSeq))
        return { ackedSeq, problem: undefined };
      return {
        ackedSeq: 0,
        problem: `cursor checksum mismatch ${JSON.stringify(text.slice(0, 100))}: ackedSeq ${ackedSeq} is not trusted`,
      };
    }
    return { ackedSeq: 0, problem: `unrecognised cursor content ${JSON.stringify(text.slice(0, 100))}` };
  } catch (error: unknown) {
    return {
      ackedSeq: 0,
      problem: `unparsable cursor: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
}

/** Durably replaces the cursor with `ackedSeq`. Rejects on any I/O error (the old cursor then stays in place). */
export async function writeAckCursor(
  fileSystem: OutboxFs,
  directory: string,
  ackedSeq: number,
): Promise<void> {
  const path = join(directory, ACK_CURSOR_FILE);
  const temp = path + TEMP_SUFFIX;
  const file = await fileSystem.open(temp, 'w');
  try {
    const content = { version: 1, ackedSeq, crc32c: ackCursorChecksum(ackedSeq) };
    await writeFully(file, Buffer.from(`${JSON.stringify(content)}\n`, 'utf8'), 0);
    await file.datasync();
  } finally {
    await file.close();
  }
  await fileSystem.rename(temp, path);
  await syncDirectory(fileSystem, directory);
}

export function isNotFound(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'ENOENT';
}
