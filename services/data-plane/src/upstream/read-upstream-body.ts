import { RouterError } from '@api-router/errors';
import type { UpstreamBody } from './upstream-client.js';
import { type CancelSignal } from '../cancel-signal.js';

/**
 * Reads a whole streamed upstream response body, at most `maxBytes` (the streaming call's error body; a
 * response meant to be read whole is read by the client's `whole` call instead, without a stream). A larger
 * body is abandoned (the connection is destroyed so that the backend stops sending) and the request fails
 * with 502 upstream_error. A body that fails mid-way fails the request: see {@link upstreamBodyError}.
 */
export async function readUpstreamBody(
  body: UpstreamBody,
  maxBytes: number,
  signal: CancelSignal,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      size += chunk.length;
      if (size > maxBytes) {
        body.destroy();
        throw upstreamResponseTooLarge(maxBytes);
      }
      chunks.push(chunk);
    }
  } catch (error: unknown) {
    throw upstreamBodyError(error, signal);
  }
  return chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks, size);
}

/** 502 upstream_error for a response body over `maxBytes`; the body was abandoned. */
export function upstreamResponseTooLarge(maxBytes: number): RouterError {
  return new RouterError('upstream_error', {
    message: 'The model backend response exceeded the size limit.',
    details: { max_bytes: maxBytes },
  });
}

/**
 * The error a failed upstream body read becomes (whole reads and the stream relay): a RouterError as is
 * (the size cap); the signal's reason when it aborted (the request deadline or the client leaving); 504
 * upstream_timeout for a stalled body; 502 upstream_error otherwise.
 */
export function upstreamBodyError(error: unknown, signal: CancelSignal): unknown {
  if (error instanceof RouterError) return error;
  if (signal.aborted) return signal.reason;
  if ((error as { code?: unknown } | undefined)?.code === 'UND_ERR_BODY_TIMEOUT') {
    return new RouterError('upstream_timeout', {
      message: 'The model backend stalled mid-response.',
      cause: error,
    });
  }
  return new RouterError('upstream_error', {
    message: 'The model backend connection failed mid-response.',
    cause: error,
  });
}
