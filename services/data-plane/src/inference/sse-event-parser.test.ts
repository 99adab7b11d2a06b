import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SseEventParser, type SseEvent } from './sse-event-parser.js';

function feed(chunks: readonly Uint8Array[]): { events: SseEvent[]; last: SseEvent | undefined } {
  const parser = new SseEventParser();
  const events = chunks.flatMap((chunk) => parser.push(chunk));
  return { events, last: parser.finish() };
}

/** `bytes` cut at `cuts` (offsets, any order, duplicates allowed). */
function cutAt(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.subarray(start, point));
    start = point;
  }
  return chunks;
}

const encoder = new TextEncoder();

describe('SseEventParser', () => {
  it('finds the same events however the stream is cut into chunks (line ends LF, CRLF, CR; UTF-8)', () => {
    const line = fc.oneof(
      fc.constantFrom('data: {"a":1}', 'data:x', 'data', ': comment', 'event: e', 'data: é€😀', 'id: 7'),
      fc.string({ maxLength: 12 }).map((text) => `data: ${text.replace(/[\r\n]/g, ' ')}`),
    );
    const lineEnd = fc.constantFrom('\n', '\r\n', '\r');
    const event = fc
      .tuple(fc.array(line, { minLength: 1, maxLength: 4 }), lineEnd)
      .map(([lines, end]) => lines.join(end) + end + end);
    fc.assert(
      fc.property(
        fc.array(event, { maxLength: 6 }),
        fc.string({ maxLength: 10 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (events, unfinished, cuts) => {
          const bytes = encoder.encode(events.join('') + unfinished);
          expect(feed(cutAt(bytes, cuts))).toEqual(feed([bytes]));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('ends an event whose blank line straddles two chunks', () => {
    for (const [first, second] of [
      ['data: a\r\n\r', '\n'],
      ['data: a\r\n', '\r\n'],
      ['data: a\n', '\n'],
      ['data: a\r', '\r'],
    ] as const) {
      const { events } = feed([encoder.encode(first), encoder.encode(second)]);
      expect(events.map((event) => event.data)).toEqual(['a']);
    }
  });

  it('counts what it holds of an unfinished event, and nothing once the event ends', () => {
    const parser = new SseEventParser();
    parser.push(encoder.encode('data: '));
    parser.push(encoder.encode('x'.repeat(1000)));
    expect(parser.pendingLength()).toBe(1006);
    expect(parser.push(encoder.encode('\n\ndata: y'))).toHaveLength(1);
    expect(parser.pendingLength()).toBe(7);
  });
});
