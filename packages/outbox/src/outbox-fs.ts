import { writeSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/** The part of a Node `FileHandle` the outbox uses. */
export interface OutboxFile {
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  write(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  /** fdatasync(2): data and the metadata needed to read it back (the size) are on stable storage. */
  datasync(): Promise<void>;
  truncate(length: number): Promise<void>;
  stat(): Promise<{ size: number }>;
  close(): Promise<void>;
  /** The OS file descriptor (a Node `FileHandle` has it); needed for `OutboxFs.writeSync`. */
  readonly fd?: number;
}

/**
 * The file-system calls the outbox makes, injectable so tests can count fsyncs and inject failures.
 * `createNodeOutboxFs()` is the real one.
 */
export interface OutboxFs {
  /** Flags as for `fs.open`: the outbox uses `r`, `r+`, `w` (cursor temp file) and `wx` (new segment). */
  open(path: string, flags: string): Promise<OutboxFile>;
  readdir(path: string): Promise<string[]>;
  /** Resolves with the first directory created, or undefined when it already existed. */
  mkdir(path: string, options: { recursive: true }): Promise<string | undefined>;
  readFile(path: string): Promise<Buffer>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** pwrite(2) on the calling thread (`fs.writeSync`): returns the bytes written. Optional. */
  writeSync?(fd: number, buffer: Buffer, offset: number, length: number, position: number): number;
}

/** `node:fs/promises`, as an `OutboxFs`. */
export function createNodeOutboxFs(): OutboxFs {
  return {
    open: (path, flags) => fs.open(path, flags),
    readdir: (path) => fs.readdir(path),
    mkdir: (path, options) => fs.mkdir(path, options),
    readFile: (path) => fs.readFile(path),
    rename: (from, to) => fs.rename(from, to),
    unlink: (path) => fs.unlink(path),
    writeSync: (fd, buffer, offset, length, position) => writeSync(fd, buffer, offset, length, position),
  };
}

/**
 * fsyncs a directory, which makes file creations, renames and deletions in it durable (on Linux a new
 * file's data can survive a crash while its directory entry does not).
 */
export async function syncDirectory(fileSystem: OutboxFs, directory: string): Promise<void> {
  const handle = await fileSystem.open(directory, 'r');
  try {
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

/** Writes all of `buffer` at `position`, looping over short writes. */
export async function writeFully(file: OutboxFile, buffer: Buffer, position: number): Promise<void> {
  let written = 0;
  while (written < buffer.length) {
    const { bytesWritten } = await file.write(buffer, written, buffer.length - written, position + written);
    if (bytesWritten <= 0)
      throw new Error(`short write: 0 of ${buffer.length - written} bytes at ${position + written}`);
    written += bytesWritten;
  }
}

/** `writeFully` with synchronous pwrite(2) calls on the calling thread. */
export function writeFullySync(
  write: (buffer: Buffer, offset: number, length: number, position: number) => number,
  buffer: Buffer,
  position: number,
): void {
  let written = 0;
  while (written < buffer.length) {
    const bytesWritten = write(buffer, written, buffer.length - written, position + written);
    if (bytesWritten <= 0)
      throw new Error(`short write: 0 of ${buffer.length - written} bytes at ${position + written}`);
    written += bytesWritten;
  }
}

/** Reads up to `length` bytes at `position`; the result is shorter only at end of file. */
export async function readAt(file: OutboxFile, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await file.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled === length ? buffer : buffer.subarray(0, filled);
}

/** A brand-new outbox directory must itself survive a crash, or its first records go with it: fsync each new entry's parent. */
export async function syncCreatedDirectories(
  fileSystem: OutboxFs,
  directory: string,
  firstCreated: string,
): Promise<void> {
  const top = resolve(firstCreated);
  for (let current = resolve(directory); ; current = dirname(current)) {
    await syncDirectory(fileSystem, dirname(current));
    if (current === top || dirname(current) === current) return;
  }
}
