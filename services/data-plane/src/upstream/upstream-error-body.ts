import { readUpstreamBody } from './read-upstream-body.js';
import type { UpstreamResponse, UpstreamWholeBody } from './upstream-client.js';
import { type CancelSignal } from '../cancel-signal.js';

/** Most bytes of an upstream error body read, for the log line. */
const MAX_ERROR_BODY_BYTES = 4096;
/** Most characters of it logged. */
const MAX_EXCERPT_CHARS = 500;

/** An authentication error body may echo (part of) the backend credential we sent: never read or log it. */
export function mayEchoCredential(statusCode: number): boolean {
  return statusCode === 401 || statusCode === 403;
}

/** Most bytes of an error body read for the log line: none of one that may echo the credential. */
export function maxErrorBodyBytes(statusCode: number): number {
  return mayEchoCredential(statusCode) ? 0 : MAX_ERROR_BODY_BYTES;
}

/** A streamed response's error body, read as a whole call reads it; an authentication error's is abandoned. */
export async function readStreamedErrorBody(
  response: UpstreamResponse,
  signal: CancelSignal,
): Promise<UpstreamWholeBody> {
  const maxBytes = maxErrorBodyBytes(response.statusCode);
  if (maxBytes === 0) {
    response.body.destroy();
    return { ok: false, error: new Error('not read') };
  }
  try {
    return { ok: true, bytes: await readUpstreamBody(response.body, maxBytes, signal) };
  } catch (error: unknown) {
    return { ok: false, error };
  }
}

/** What the log line says of an error body: its start, or why there is none. */
export function errorBodyExcerpt(statusCode: number, body: UpstreamWholeBody): string {
  if (mayEchoCredential(statusCode)) return '(body unreadable: not logged for an authentication error)';
  if (body.ok) return body.bytes.toString('utf8').slice(0, MAX_EXCERPT_CHARS);
  return body.error instanceof Error ? `(body unreadable: ${body.error.message})` : '(body unreadable)';
}
