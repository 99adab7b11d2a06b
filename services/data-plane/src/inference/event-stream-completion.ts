import { RouterError } from '@api-router/errors';
import type { ProviderAdapter } from '../upstream/adapters/provider-adapter.js';
import { SseEventParser } from './sse-event-parser.js';

/** Most characters of the backend's words kept for the log, as for an error event in a relayed stream. */
const LOGGED_EXCERPT_CHARS = 500;

/**
 * The whole completion (a JSON value for the adapter's parseCompletion) that a stream adds up to, for a
 * backend that answered a request for one (`stream` false or absent) with `text/event-stream`: some servers
 * stream by default or ignore the flag. `raw` is the whole stream, read as a JSON answer is (size cap,
 * deadline). The client then gets the completion it asked for, through the JSON path.
 *
 * As for a relayed stream, only a stream that reached its end marker is whole, and one that reports an
 * error (`data: {"error": …}`, vLLM's `{"object": "error"}`) failed even when an end marker follows: both
 * are a 502 upstream_error whose cause (logged, never sent) holds the backend's words. What came after the
 * end marker is ignored. Each chunk is parsed twice (for errors, then by the adapter's assembly): this path
 * is rare, and it keeps the one test of a stream's error events.
 */
export function completionFromEventStream(raw: Buffer, adapter: ProviderAdapter): unknown {
  const parser = new SseEventParser();
  const events = parser.push(raw);
  // The end marker may close the body without the blank line that ends an event (SDKs accept that too).
  const last = parser.finish();
  if (last !== undefined) events.push(last);
  const data: string[] = [];
  for (const event of events) {
    if (event.data === undefined) continue; // a comment (keep-alive) or an id/retry-only event
    if (adapter.isStreamEnd(event.data)) return adapter.streamAsCompletion(data);
    if (adapter.parseStreamData(event.data)?.upstreamError === true) {
      throw new RouterError('upstream_error', {
        message: 'The model backend reported an error in its stream.',
        cause: new Error(`backend stream error: ${event.data.slice(0, LOGGED_EXCERPT_CHARS)}`),
      });
    }
    data.push(event.data);
  }
  throw new RouterError('upstream_error', {
    message: 'The model backend stream ended early.',
    cause: new Error(
      `backend stream without an end marker (${raw.length} bytes), ending: ` +
        raw.toString('utf8', Math.max(0, raw.length - LOGGED_EXCERPT_CHARS)),
    ),
  });
}
