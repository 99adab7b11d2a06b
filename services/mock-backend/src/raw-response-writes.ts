import { once } from 'node:events';
import type { ServerResponse } from 'node:http';

/** A signal that aborts when the response closes: finished, or the client went away mid-response. */
export function abortSignalOnClose(response: ServerResponse): AbortSignal {
  const controller = new AbortController();
  response.once('close', () => controller.abort());
  return controller.signal;
}

/** Writes `data`, waiting for 'drain' when the socket buffer is full; rejects if `signal` aborts first. */
export async function writeWithBackpressure(
  response: ServerResponse,
  data: string | Buffer,
  signal: AbortSignal,
): Promise<void> {
  if (!response.write(data)) await once(response, 'drain', { signal });
}

/** Writes `data` and resolves once it has been handed to the socket, so a following destroy() cannot drop it. */
export async function writeAndFlush(response: ServerResponse, data: string | Buffer): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    response.write(data, (error) => (error ? reject(error) : resolve()));
  });
}

/** Whether the response can still be written to (the client has not gone away and it has not ended). */
export function isWritable(response: ServerResponse): boolean {
  return !response.destroyed && !response.writableEnded;
}
