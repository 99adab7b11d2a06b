import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { writeAndFlush, writeWithBackpressure } from './raw-response-writes.js';
import type { RequestFaults } from './request-faults.js';
import type { Sleep } from './sleep.js';

/** A slow JSON body is written in this many pieces, with the chunk delay before every piece after the first. */
export const SLOW_BODY_PIECES = 8;

export interface JsonBodyWriteOptions {
  status: number;
  body: unknown;
  faults: RequestFaults;
  /** Headers already set on the reply (identity header…). */
  headers: OutgoingHttpHeaders;
  sleep: Sleep;
  signal: AbortSignal;
}

/** Whether a JSON response needs the paced writer (any body-level fault) rather than a plain send. */
export function needsPacedJsonBody(faults: RequestFaults): boolean {
  return faults.firstByteDelayMs > 0 || faults.chunkDelayMs > 0 || faults.truncateAfter !== undefined;
}

/**
 * Writes a JSON body with body-level faults: headers first (with the full content-length), then the first-byte
 * delay, then the body in {@link SLOW_BODY_PIECES} pieces separated by the chunk delay. With `truncateAfter`
 * it sends only that many bytes and destroys the connection. Rejects with an AbortError if the client leaves.
 */
export async function writePacedJsonBody(
  response: ServerResponse,
  options: JsonBodyWriteOptions,
): Promise<void> {
  const { faults, sleep, signal } = options;
  const body = Buffer.from(JSON.stringify(options.body));
  response.writeHead(options.status, {
    ...options.headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': body.length,
  });
  response.flushHeaders();
  if (faults.firstByteDelayMs > 0) await sleep(faults.firstByteDelayMs, signal);
  const sent =
    faults.truncateAfter === undefined ? body : body.subarray(0, Math.min(faults.truncateAfter, body.length));
  const pieceBytes = Math.max(1, Math.ceil(sent.length / SLOW_BODY_PIECES));
  for (let offset = 0; offset < sent.length; offset += pieceBytes) {
    if (offset > 0 && faults.chunkDelayMs > 0) await sleep(faults.chunkDelayMs, signal);
    const piece = sent.subarray(offset, offset + pieceBytes);
    if (faults.truncateAfter === undefined) await writeWithBackpressure(response, piece, signal);
    else await writeAndFlush(response, piece);
  }
  if (faults.truncateAfter === undefined) response.end();
  else response.destroy();
}
