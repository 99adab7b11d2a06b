import { open } from 'node:fs/promises';

/**
 * The last `maxLines` lines (default 40) of a log file, read from at most its last 64 KiB, for error
 * messages. Returns a placeholder instead of throwing when the file cannot be read.
 */
export async function readLogTail(path: string, maxLines = 40): Promise<string> {
  try {
    const file = await open(path, 'r');
    try {
      const { size } = await file.stat();
      const length = Math.min(size, 64 * 1024);
      const buffer = Buffer.alloc(length);
      await file.read(buffer, 0, length, size - length);
      const lines = buffer.toString('utf8').split('\n');
      return lines
        .slice(-maxLines - 1)
        .join('\n')
        .trimEnd();
    } finally {
      await file.close();
    }
  } catch (error: unknown) {
    return `(no log at ${path}: ${error instanceof Error ? error.message : String(error)})`;
  }
}
