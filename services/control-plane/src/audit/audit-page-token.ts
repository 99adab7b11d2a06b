import { RouterError } from '@api-router/errors';
import type { AuditPageCursor } from './audit-store.js';

/**
 * Opaque page tokens of ListAuditEvents: the cursor (at ms, event id) as base64url JSON. Not signed: a
 * forged token only moves the caller's own position in a list it may read anyway.
 */
export function encodeAuditPageToken(cursor: AuditPageCursor): string {
  return Buffer.from(JSON.stringify([cursor.atMs, cursor.eventId]), 'utf8').toString('base64url');
}

/**
 * @returns undefined for '' (the first page).
 * @throws RouterError `invalid_request` when the token was not made by {@link encodeAuditPageToken}.
 */
export function decodeAuditPageToken(token: string): AuditPageCursor | undefined {
  if (token === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch (error: unknown) {
    throw new RouterError('invalid_request', { message: 'page_token is not valid', cause: error });
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 2 ||
    !Number.isSafeInteger(parsed[0]) ||
    typeof parsed[1] !== 'string' ||
    // Never in a real event id, and refused by Postgres as a parameter.
    parsed[1].includes('\0')
  ) {
    throw new RouterError('invalid_request', { message: 'page_token is not valid' });
  }
  return { atMs: parsed[0] as number, eventId: parsed[1] };
}
