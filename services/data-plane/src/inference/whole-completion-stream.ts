import type { IncomingHttpHeaders } from 'node:http';
import type { ProviderAdapter } from '../upstream/adapters/provider-adapter.js';
import { upstreamResponseTooLarge } from '../upstream/read-upstream-body.js';
import type { UpstreamBody } from '../upstream/upstream-client.js';
import { parseJsonBody, unreadableCompletion } from './completion-body.js';

/** application/json or a structured `+json` type, any case, parameters (charset) aside. */
const JSON_MEDIA_TYPE = /^\s*application\/(?:[\w.+-]*\+)?json\s*(?:;|$)/i;

/** Whether a streamed answer says it is JSON: a backend that ignored `stream: true` (or a mislabelled stream). */
export function isJsonResponse(headers: IncomingHttpHeaders): boolean {
  const type = headers['content-type'];
  return typeof type === 'string' && JSON_MEDIA_TYPE.test(type);
}

/**
 * The body to relay for a stream request answered with JSON. Some servers and proxies drop the `stream`
 * flag and answer a whole completion: it is read whole (at most `maxBytes`, as a JSON answer is) and handed
 * to the relay as the SSE the backend would have streamed (the adapter's completionAsStream), so that the
 * relay and the route's event handling are those of a real stream: the usage chunk dropped unless the
 * client asked for it, the usage taken from it, the time to first token at the first chunk with output
 * (here, once the whole completion arrived), the clean end. A body that is not a completion (an error
 * object in a 200, garbage) fails the relay as a broken stream does (502 upstream_error, truncated). A body
 * that does not start with `{` is no completion but a stream a proxy labelled JSON: relayed as it arrives.
 */
export function wholeCompletionAsStream(
  body: UpstreamBody,
  adapter: ProviderAdapter,
  maxBytes: number,
): UpstreamBody {
  return {
    destroy: (error?: Error) => body.destroy(error),
    [Symbol.asyncIterator]: () => completionEvents(body, adapter, maxBytes),
  };
}

async function* completionEvents(
  body: UpstreamBody,
  adapter: ProviderAdapter,
  maxBytes: number,
): AsyncGenerator<Buffer> {
  const held: Buffer[] = [];
  let size = 0;
  // Decided by the body's first byte that is not JSON whitespace; undefined until one came.
  let isObject: boolean | undefined;
  // Leaving this loop by a throw destroys the body (its iterator's return()): the backend stops sending.
  for await (const chunk of body) {
    if (isObject === false) {
      yield chunk;
      continue;
    }
    held.push(chunk);
    size += chunk.length;
    isObject ??= startsWithBrace(chunk);
    if (isObject === false) {
      yield Buffer.concat(held, size);
    } else if (size > maxBytes) {
      throw upstreamResponseTooLarge(maxBytes);
    }
  }
  // Empty (or blank): no events, so the relay ends it as a stream closed early.
  if (isObject !== true) return;
  const raw = Buffer.concat(held, size);
  const events = adapter.completionAsStream(parseJsonBody(raw));
  if (events === undefined) throw unreadableCompletion(raw);
  yield Buffer.from(events, 'utf8');
}

/** Whether the chunk's first non-whitespace byte is `{`; undefined for a chunk of whitespace only. */
function startsWithBrace(chunk: Buffer): boolean | undefined {
  for (const byte of chunk) {
    // JSON whitespace: space, tab, LF, CR.
    if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d) return byte === 0x7b;
  }
  return undefined;
}
