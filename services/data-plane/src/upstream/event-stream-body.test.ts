import { describe, expect, it } from 'vitest';
import { isEventStreamBody } from './event-stream-body.js';

// A 2xx body read whole is taken for a stream (and assembled into a completion) only when its response
// says text/event-stream; a JSON completion is never looked at twice.

describe('isEventStreamBody', () => {
  it.each(['text/event-stream', 'text/event-stream; charset=utf-8', ' Text/Event-Stream ;charset=UTF-8'])(
    'marks a body labelled %j',
    (type) => {
      const bytes = Buffer.from('data: [DONE]\n\n');
      expect(isEventStreamBody(bytes, { 'content-type': type })).toBe(true);
    },
  );

  it.each([undefined, 'application/json', 'text/plain', 'text/event-streams', 'application/x-ndjson'])(
    'leaves a body labelled %j alone',
    (type) => {
      const bytes = Buffer.from('data: [DONE]\n\n');
      expect(isEventStreamBody(bytes, type === undefined ? {} : { 'content-type': type })).toBe(false);
    },
  );

  it('leaves a JSON completion alone whatever its label says: it starts with `{`', () => {
    const bytes = Buffer.from('{"id":"chatcmpl-1","choices":[]}');
    expect(isEventStreamBody(bytes, { 'content-type': 'text/event-stream' })).toBe(false);
  });

  it('marks an empty stream: the route then finds it without its end marker', () => {
    const bytes = Buffer.alloc(0);
    expect(isEventStreamBody(bytes, { 'content-type': 'text/event-stream' })).toBe(true);
  });
});
