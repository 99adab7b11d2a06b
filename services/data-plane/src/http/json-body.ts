import secureJson from 'secure-json-parse';
import { RouterError } from '@api-router/errors';

/** Deepest nesting of objects and arrays accepted in a request body. */
export const MAX_JSON_DEPTH = 64;

/**
 * Parses a request body as JSON, safely:
 * - nesting deeper than `maxDepth` is refused by a linear byte scan *before* parsing, so a hostile
 *   `[[[[…` never reaches the recursive parser or our validators;
 * - `__proto__` keys and `constructor.prototype` paths are refused (secure-json-parse, the parser fastify
 *   itself uses), so a body cannot pollute prototypes when later merged or copied.
 * @throws RouterError('invalid_request') with a message saying which rule failed; the body is never echoed.
 */
export function parseJsonBody(bytes: Uint8Array, maxDepth: number = MAX_JSON_DEPTH): unknown {
  if (exceedsDepth(bytes, maxDepth)) {
    throw new RouterError('invalid_request', {
      message: `The JSON body is nested deeper than ${maxDepth} levels.`,
    });
  }
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  try {
    return secureJson.parse(text, null, { protoAction: 'error', constructorAction: 'error' }) as unknown;
  } catch (error: unknown) {
    const forbidden = error instanceof SyntaxError && /forbidden prototype property/.test(error.message);
    throw new RouterError('invalid_request', {
      message: forbidden
        ? 'The JSON body contains a forbidden property (__proto__ or constructor.prototype).'
        : 'The body is not valid JSON.',
      cause: error,
    });
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;

/**
 * True when brackets outside strings nest deeper than `maxDepth`. Malformed input is not judged here
 * (unbalanced brackets just stop counting right); JSON.parse rejects it afterwards.
 */
export function exceedsDepth(bytes: Uint8Array, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let index = 0; index < bytes.length; index += 1) {
    const byte = bytes[index];
    if (inString) {
      if (byte === BACKSLASH) index += 1;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) {
      inString = true;
    } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      depth += 1;
      if (depth > maxDepth) return true;
    } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
      depth -= 1;
    }
  }
  return false;
}
