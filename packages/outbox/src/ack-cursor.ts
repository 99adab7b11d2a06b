import { join } from 'node:path';
import { syncDirectory, writeFully, type OutboxFs } from './outbox-fs.js';

/** The committed "acked up to seq" cursor; replaced atomically (temp file + fsync + rename + directory fsync). */
export const ACK_CURSOR_FILE = 'acked.json';
const TEMP_SUFFIX = '.tmp';

export interface AckCursorRead {
  ackedSeq: number;
  /** Set when a cursor file existed but could not be used; the outbox then re-ships from the start. */
  problem: string | undefined;
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
    const parsed = JSON.parse(text) as { version?: unknown; ackedSeq?: unknown };
    if (parsed.version === 1 && Number.isSafeInteger(parsed.ackedSeq) && (parsed.ackedSeq as number) >= 0) {
      return { ackedSeq: parsed.ackedSeq as number, problem: undefined };
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
    await writeFully(file, Buffer.from(`${JSON.stringify({ version: 1, ackedSeq })}\n`, 'utf8'), 0);
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
