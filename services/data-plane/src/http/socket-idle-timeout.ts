import type { Socket } from 'node:net';

/** How long past a request's deadline its client socket may stay silent: time to send the deadline's 504. */
export const DEADLINE_IDLE_MARGIN_MS = 30_000;

/**
 * The server closes a client socket after `connectionTimeoutMs` (300 s) without a byte either way, also
 * while a request on it is waiting for its backend: a non-streamed completion slower than that was cut
 * (the client saw a reset, not a 504) even when its route allowed a longer deadline, as LLM gateways often
 * do (10 minutes for reasoning models). Raises this socket's idle timeout to the request's deadline plus
 * {@link DEADLINE_IDLE_MARGIN_MS} when it is shorter; never lowers it, and a socket without one (0) keeps
 * none. Node puts the server's value back for the next request on a kept-alive socket. With the default
 * deadlines (30 s) this only reads one property.
 */
export function keepSocketOpenUntilDeadline(socket: Socket | null | undefined, timeoutMs: number): void {
  if (socket === null || socket === undefined) return;
  const current = socket.timeout ?? 0;
  const needed = timeoutMs + DEADLINE_IDLE_MARGIN_MS;
  if (current !== 0 && current < needed) socket.setTimeout(needed);
}
