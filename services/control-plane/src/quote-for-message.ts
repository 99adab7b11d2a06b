/** Most characters of a caller's text that an error message quotes. */
const MAX_QUOTED_CHARACTERS = 128;

/**
 * A caller's id (request id, tenant, budget id) quoted for an error message, cut after its first 128
 * characters (then followed by its length). Over gRPC the message travels in the grpc-message trailer: a
 * whole 100 000-character id there broke the stream (INTERNAL, NGHTTP2_FRAME_SIZE_ERROR) instead of
 * answering.
 */
export function quoteForMessage(text: string): string {
  if (text.length <= MAX_QUOTED_CHARACTERS) return JSON.stringify(text);
  return `${JSON.stringify(text.slice(0, MAX_QUOTED_CHARACTERS))}… (${String(text.length)} characters)`;
}
