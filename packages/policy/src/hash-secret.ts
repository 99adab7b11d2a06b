import { createHash } from 'node:crypto';

/**
 * Lower-case hex SHA-256 of the UTF-8 bytes of `text`. This is how API keys (the whole "<publicId>.<secret>"
 * string) and admin tokens are stored in config: never in plaintext.
 */
export function hashSecret(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
