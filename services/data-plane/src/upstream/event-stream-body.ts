import type { IncomingHttpHeaders } from 'node:http';

/** text/event-stream, any case, parameters (charset) aside. */
const EVENT_STREAM_MEDIA_TYPE = /^\s*text\/event-stream\s*(?:;|$)/i;

/** `{`: the first byte of every JSON completion. */
const OPEN_BRACE = 0x7b;

/**
 * Whether a 2xx body read whole is a stream: its response says `text/event-stream` (a backend streaming
 * though the request asked for a whole completion). A JSON completion (its first byte `{`) pays that one
 * byte's test and no look at the headers: this is on every JSON answer's path.
 */
export function isEventStreamBody(bytes: Buffer, headers: IncomingHttpHeaders): boolean {
  if (bytes[0] === OPEN_BRACE) return false;
  const type = headers['content-type'];
  return typeof type === 'string' && EVENT_STREAM_MEDIA_TYPE.test(type);
}
