import { isUtf8 } from 'node:buffer';
import secureJson from 'secure-json-parse';
import { RouterError } from '@api-router/errors';

/** Deepest nesting of objects and arrays accepted in a request body. */
export const MAX_JSON_DEPTH = 64;

/**
 * Parses a request body as JSON, safely:
 * - nesting deeper than `maxDepth` is refused by a linear byte scan *before* parsing, so a hostile
 *   `[[[[…` never reaches the recursive parser or our validators;
 * - bytes that are not UTF-8 are refused: decoding would put U+FFFD in their place and the backend would
 *   get text the client never sent (a Latin-1 "café" labelled as JSON);
 * - a number JavaScript cannot hold as written is refused (the same scan finds it): one beyond a double's
 *   range parses to Infinity, which JSON.stringify sends upstream as `null`; a top-level integer beyond
 *   ±2^53 parses to a neighbour (a 64-bit `seed` would reach the backend as another seed). Nested ones
 *   (a tool schema's `"maximum": 9223372036854775807`) go as JSON.stringify writes them, as before: a
 *   bound a few units off means the same, and refusing would break generated schemas;
 * - `__proto__` keys and `constructor.prototype` paths are refused (secure-json-parse, the parser fastify
 *   itself uses), so a body cannot pollute prototypes when later merged or copied.
 * A UTF-8 byte order mark before the JSON is ignored, as RFC 8259 allows.
 * @throws RouterError('invalid_request') with a message saying which rule failed; the body is never echoed.
 */
export function parseJsonBody(bytes: Uint8Array, maxDepth: number = MAX_JSON_DEPTH): unknown {
  const scan = scanJson(bytes, maxDepth);
  if (scan === SCAN_TOO_DEEP) {
    throw new RouterError('invalid_request', {
      message: `The JSON body is nested deeper than ${maxDepth} levels.`,
    });
  }
  if (!isUtf8(bytes)) throw new RouterError('invalid_request', { message: 'The body is not valid UTF-8.' });
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  let json: unknown;
  try {
    json = secureJson.parse(text, null, { protoAction: 'error', constructorAction: 'error' }) as unknown;
  } catch (error: unknown) {
    const forbidden = error instanceof SyntaxError && /forbidden prototype property/.test(error.message);
    throw new RouterError('invalid_request', {
      message: forbidden
        ? 'The JSON body contains a forbidden property (__proto__ or constructor.prototype).'
        : 'The body is not valid JSON.',
      cause: error,
    });
  }
  // After the parse, so that malformed JSON is reported as such rather than as a number.
  if (scan === SCAN_INEXACT_NUMBER) {
    throw new RouterError('invalid_request', {
      message:
        'The JSON body contains a number that cannot be forwarded as written: a top-level integer beyond ' +
        '±2^53 that a double cannot hold exactly, or a number beyond the range of a double.',
    });
  }
  return json;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const LOWER_E = 0x65;
const UPPER_E = 0x45;
/**
 * Longest number literal read without looking at it: without an exponent, 15 characters hold at most 15
 * digits, below 2^53 (16 digits) and far below a double's range.
 */
const PLAIN_NUMBER_MAX_LENGTH = 15;
/**
 * Longest literal without an exponent that is within a double's range whatever its digits: its integer part
 * has at most 308 digits, below 1e308. A fraction or a nested integer up to this long needs no conversion
 * (converting each one cost ~0.3 µs: a body of 2 000 floats took 3.4 times as long to parse).
 */
const FINITE_PLAIN_NUMBER_MAX_LENGTH = 308;

/** What {@link scanJson} found. */
const SCAN_OK = 0;
const SCAN_TOO_DEEP = 1;
const SCAN_INEXACT_NUMBER = 2;

/**
 * True when brackets outside strings nest deeper than `maxDepth`. Malformed input is not judged here
 * (unbalanced brackets just stop counting right); JSON.parse rejects it afterwards.
 */
export function exceedsDepth(bytes: Uint8Array, maxDepth: number): boolean {
  return scanJson(bytes, maxDepth) === SCAN_TOO_DEEP;
}

/**
 * One pass over the bytes, strings skipped: nesting deeper than `maxDepth` (reported at once), else a
 * number literal that does not parse to the value written (see parseJsonBody). Only literals that may be
 * wrong are converted to be looked at: one with an exponent, a top-level integer longer than
 * {@link PLAIN_NUMBER_MAX_LENGTH}, any other longer than {@link FINITE_PLAIN_NUMBER_MAX_LENGTH}.
 */
function scanJson(bytes: Uint8Array, maxDepth: number): number {
  let depth = 0;
  let inString = false;
  let inexactNumber = false;
  for (let index = 0; index < bytes.length; index += 1) {
    const byte = bytes[index]!;
    if (inString) {
      if (byte === BACKSLASH) index += 1;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) {
      inString = true;
    } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      depth += 1;
      if (depth > maxDepth) return SCAN_TOO_DEEP;
    } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
      depth -= 1;
    } else if (byte === MINUS || (byte >= DIGIT_0 && byte <= DIGIT_9)) {
      const start = index;
      let exponent = false;
      let fraction = false;
      while (index + 1 < bytes.length && isNumberByte(bytes[index + 1]!)) {
        index += 1;
        if (bytes[index] === LOWER_E || bytes[index] === UPPER_E) exponent = true;
        else if (bytes[index] === DOT) fraction = true;
      }
      const length = index + 1 - start;
      const rangeOnly = exponent || fraction || depth > 1;
      if (exponent || length > (rangeOnly ? FINITE_PLAIN_NUMBER_MAX_LENGTH : PLAIN_NUMBER_MAX_LENGTH)) {
        inexactNumber ||= !isExact(bytes, start, index + 1, rangeOnly);
      }
    }
  }
  return inexactNumber ? SCAN_INEXACT_NUMBER : SCAN_OK;
}

function isNumberByte(byte: number): boolean {
  return (
    (byte >= DIGIT_0 && byte <= DIGIT_9) ||
    byte === DOT ||
    byte === LOWER_E ||
    byte === UPPER_E ||
    byte === MINUS ||
    byte === PLUS
  );
}

/**
 * Whether a number literal reaches the backend as the value it says: with `rangeOnly` (a fraction or an
 * exponent, which a backend parses as a double as JavaScript does; or a nested integer, see
 * parseJsonBody) when it is finite; else (an integer, which a backend parses exactly, as a 64-bit
 * integer) when JSON.stringify writes it back as it came. A malformed literal counts as exact: JSON.parse
 * refuses it.
 */
function isExact(bytes: Uint8Array, start: number, end: number, rangeOnly: boolean): boolean {
  const literal = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString(
    'latin1',
    start,
    end,
  );
  const value = Number(literal);
  if (Number.isNaN(value)) return true;
  return rangeOnly ? Number.isFinite(value) : String(value) === literal;
}
