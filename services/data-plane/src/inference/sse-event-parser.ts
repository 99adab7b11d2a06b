/** One Server-Sent Event as received: its exact text and its data (data lines joined by "\n"). */
export interface SseEvent {
  /** The event's lines as received, terminated by a blank line: what a pass-through relay writes. */
  readonly raw: string;
  /** Undefined for an event without data lines (comments, retry/id-only events). */
  readonly data: string | undefined;
}

/**
 * Splits an SSE byte stream into events (WHATWG HTML §9.2.6), incrementally: chunks may split an event, a
 * line or a UTF-8 sequence anywhere. Line ends may be LF, CRLF or CR.
 */
export class SseEventParser {
  readonly #decoder = new TextDecoder('utf-8');
  #buffer = '';

  /** Feeds bytes; returns the events completed by them. */
  push(chunk: Uint8Array): SseEvent[] {
    this.#buffer += this.#decoder.decode(chunk, { stream: true });
    const events: SseEvent[] = [];
    for (;;) {
      const end = /\r\n\r\n|\n\n|\r\r/.exec(this.#buffer);
      if (end === null) return events;
      const block = this.#buffer.slice(0, end.index);
      this.#buffer = this.#buffer.slice(end.index + end[0].length);
      events.push({ raw: `${block}\n\n`, data: dataOf(block) });
    }
  }

  /**
   * The text after the last complete event, as an event, once the stream ended (undefined when there is
   * none): a body may end right after an event's last line, without the blank line that dispatches it.
   * Its last line may itself be cut short: whoever uses it must check that it is whole.
   */
  finish(): SseEvent | undefined {
    const block = (this.#buffer + this.#decoder.decode()).replace(/(\r\n|\n|\r)$/, '');
    this.#buffer = '';
    return block === '' ? undefined : { raw: `${block}\n\n`, data: dataOf(block) };
  }

  /** Text received after the last complete event (an incomplete event when the stream ended). */
  pending(): string {
    return this.#buffer;
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
