/** One Server-Sent Event as received: its exact text and its data (data lines joined by "\n"). */
export interface SseEvent {
  /** The event's lines as received, terminated by a blank line: what a pass-through relay writes. */
  readonly raw: string;
  /** Undefined for an event without data lines (comments, retry/id-only events). */
  readonly data: string | undefined;
}

/** The blank line that ends an event, with any of the three line ends. */
const EVENT_END = /\r\n\r\n|\n\n|\r\r/;
/** Longest event end less one: how much of the text before a chunk an event end can start in. */
const EVENT_END_OVERLAP = 3;

/**
 * Splits an SSE byte stream into events (WHATWG HTML §9.2.6), incrementally: chunks may split an event, a
 * line or a UTF-8 sequence anywhere. Line ends may be LF, CRLF or CR.
 *
 * Linear in the bytes received, however an event is cut up: the text of an unfinished event is kept as the
 * pieces it came in, and a new chunk is searched for an event end only with the few characters before it
 * (an end may straddle two chunks). Appending to one string and searching all of it at every chunk cost
 * O(n²): 2.1 s of CPU, on the event loop, for one 8 MiB event in 16 KiB chunks.
 */
export class SseEventParser {
  readonly #decoder = new TextDecoder('utf-8');
  /** The text after the last complete event, as received. */
  #pieces: string[] = [];
  #pendingLength = 0;
  /** Its last {@link EVENT_END_OVERLAP} characters. */
  #tail = '';

  /** Feeds bytes; returns the events completed by them. */
  push(chunk: Uint8Array): SseEvent[] {
    const text = this.#decoder.decode(chunk, { stream: true });
    if (text === '') return [];
    this.#pieces.push(text);
    this.#pendingLength += text.length;
    const window = this.#tail + text;
    if (!EVENT_END.test(window)) {
      this.#tail = window.slice(-EVENT_END_OVERLAP);
      return [];
    }
    let buffer = this.#takePending();
    const events: SseEvent[] = [];
    for (let end = EVENT_END.exec(buffer); end !== null; end = EVENT_END.exec(buffer)) {
      const block = buffer.slice(0, end.index);
      buffer = buffer.slice(end.index + end[0].length);
      events.push({ raw: `${block}\n\n`, data: dataOf(block) });
    }
    if (buffer !== '') {
      this.#pieces.push(buffer);
      this.#pendingLength = buffer.length;
      this.#tail = buffer.slice(-EVENT_END_OVERLAP);
    }
    return events;
  }

  /**
   * The text after the last complete event, as an event, once the stream ended (undefined when there is
   * none): a body may end right after an event's last line, without the blank line that dispatches it.
   * Its last line may itself be cut short: whoever uses it must check that it is whole.
   */
  finish(): SseEvent | undefined {
    const block = (this.#takePending() + this.#decoder.decode()).replace(/(\r\n|\n|\r)$/, '');
    return block === '' ? undefined : { raw: `${block}\n\n`, data: dataOf(block) };
  }

  /** Characters received after the last complete event (an incomplete event when the stream ended). */
  pendingLength(): number {
    return this.#pendingLength;
  }

  #takePending(): string {
    const text = this.#pieces.length === 1 ? this.#pieces[0]! : this.#pieces.join('');
    this.#pieces = [];
    this.#pendingLength = 0;
    this.#tail = '';
    return text;
  }
}

function dataOf(block: string): string | undefined {
  let data: string | undefined;
  for (const line of block.split(/\r\n|\n|\r/)) {
    if (!line.startsWith('data')) continue;
    const rest = line.slice(4);
    if (rest !== '' && !rest.startsWith(':')) continue; // a field named e.g. "database"
    const value = rest.startsWith(': ') ? rest.slice(2) : rest.slice(1);
    data = data === undefined ? value : `${data}\n${value}`;
  }
  return data;
}
