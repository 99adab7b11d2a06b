import { RouterError } from '@api-router/errors';

/** Request header naming a budget change, so that a retried call applies it at most once. */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';

/** Longest accepted idempotency key, in characters. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 128;

/**
 * What an idempotency key may hold: printable ASCII (0x20–0x7E, the characters of a structured-field string
 * in the IETF Idempotency-Key draft), without leading or trailing spaces — HTTP strips those from a header
 * value, so such a key could not be sent the same way as a header and as the request field. It becomes an
 * audit attribute and the suffix of a Redis key (after the hash tag, so `{` and `}` are harmless).
 */
const KEY_PATTERN = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;

const KEY_RULE = `1-${String(MAX_IDEMPOTENCY_KEY_LENGTH)} printable ASCII characters without leading or trailing spaces (a UUID, for example)`;

/**
 * The idempotency key of an admin change call, or undefined when the caller sent none: the request's
 * `idempotency_key` field when set (non-empty), else its `Idempotency-Key` header (as in the IETF draft "The
 * Idempotency-Key HTTP Header Field"; a gRPC client sends it as metadata). A key names one change: the same
 * key again with the same change answers like the first call without changing anything again; with another
 * change it is refused. Keys are global across budgets and operators: use UUIDs.
 *
 * @throws RouterError `invalid_request` for a key (field or header) that is not 1–128 printable ASCII
 *   characters without leading or trailing spaces, or for a field and a header that are both sent and differ
 *   (which one the caller meant is unknowable).
 */
export function idempotencyKeyOf(field: string, headers: Headers): string | undefined {
  const header = headers.get(IDEMPOTENCY_KEY_HEADER);
  const fromField = field === '' ? undefined : validKey(field, 'idempotency_key');
  const fromHeader = header === null ? undefined : validKey(header, 'the Idempotency-Key header');
  if (fromField !== undefined && fromHeader !== undefined && fromField !== fromHeader) {
    throw new RouterError('invalid_request', {
      message:
        'idempotency_key and the Idempotency-Key header differ; send the key once (the field or the header), ' +
        'or the same key in both',
    });
  }
  return fromField ?? fromHeader;
}

function validKey(key: string, where: string): string {
  if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH || !KEY_PATTERN.test(key)) {
    throw new RouterError('invalid_request', { message: `${where} must be ${KEY_RULE}` });
  }
  return key;
}
