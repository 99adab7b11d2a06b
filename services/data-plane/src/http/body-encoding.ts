import type { IncomingHttpHeaders } from 'node:http';
import { RouterError } from '@api-router/errors';

/**
 * Why a JSON body's encoding cannot be read as sent (415 unsupported_media_type), or undefined when it can:
 * a `Content-Encoding` other than `identity`. The router does not decompress: compressed bytes read as JSON
 * would fail as "not valid JSON", and a proxy's stale header on a plain body would be believed elsewhere.
 * The `charset` parameter is not looked at: JSON has none (RFC 8259 §11, "no effect on compliant
 * recipients"); the bytes must be UTF-8 whatever the label says, which parseJsonBody checks (400).
 */
export function unreadableBodyEncoding(headers: IncomingHttpHeaders): RouterError | undefined {
  const contentEncoding = headers['content-encoding'];
  if (contentEncoding === undefined) return undefined;
  const codings = contentEncoding.split(',').map((coding) => coding.trim().toLowerCase());
  if (codings.every((coding) => coding === 'identity' || coding === '')) return undefined;
  return new RouterError('unsupported_media_type', {
    message: 'A Content-Encoding other than identity is not supported: send the body uncompressed.',
  });
}
