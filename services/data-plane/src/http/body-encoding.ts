import type { IncomingHttpHeaders } from 'node:http';
import { RouterError } from '@api-router/errors';

/** `charset` values read as UTF-8 (its IANA name, and the alias some clients write). */
const UTF8_CHARSETS: ReadonlySet<string> = new Set(['utf-8', 'utf8']);

/**
 * Why a JSON body's encoding cannot be read as sent (415 unsupported_media_type), or undefined when it can:
 * a `Content-Encoding` other than `identity` (the router does not decompress; compressed bytes read as
 * JSON would fail as "not valid JSON", and a proxy's stale header on a plain body would be believed
 * elsewhere), or a `charset` other than UTF-8 (decoding Latin-1 bytes as UTF-8 would change the text the
 * backend gets; RFC 8259 JSON is UTF-8).
 */
export function unreadableBodyEncoding(headers: IncomingHttpHeaders): RouterError | undefined {
  const contentEncoding = headers['content-encoding'];
  if (contentEncoding !== undefined) {
    const codings = contentEncoding.split(',').map((coding) => coding.trim().toLowerCase());
    if (codings.some((coding) => coding !== 'identity' && coding !== '')) {
      return new RouterError('unsupported_media_type', {
        message: 'A Content-Encoding other than identity is not supported: send the body uncompressed.',
      });
    }
  }
  const charset = charsetOf(headers['content-type'] ?? '');
  if (charset !== undefined && !UTF8_CHARSETS.has(charset)) {
    return new RouterError('unsupported_media_type', {
      message: 'The body must be UTF-8 JSON (application/json; charset=utf-8).',
    });
  }
  return undefined;
}

/** The `charset` parameter of a Content-Type value, lowercased and unquoted; undefined when absent. */
function charsetOf(contentType: string): string | undefined {
  const parameters = contentType.split(';');
  for (let index = 1; index < parameters.length; index += 1) {
    const parameter = parameters[index]!;
    const equals = parameter.indexOf('=');
    if (equals === -1 || parameter.slice(0, equals).trim().toLowerCase() !== 'charset') continue;
    return parameter
      .slice(equals + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
  }
  return undefined;
}
