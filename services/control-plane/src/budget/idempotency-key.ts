import { RouterError } from '@api-router/errors';

/** Request header naming a budget change, so that a retried call applies it at most once. */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';

/** What an Idempotency-Key may hold: a UUID, a ticket id… (it becomes a Redis key part and an audit attribute). */
const KEY_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The `Idempotency-Key` header of an admin change call (as in the IETF draft "The Idempotency-Key HTTP
 * Header Field"; a gRPC client sends it as metadata), or undefined when absent. A key names one change:
 * the same key again with the same change answers like the first call without changing anything again; with
 * another change it is refused. Keys are global across budgets and operators: use UUIDs.
 *
 * @throws RouterError `invalid_request` for a key that is not 1–128 characters of `A-Z a-z 0-9 . _ : -`.
 */
export function idempotencyKeyOf(headers: Headers): string | undefined {
  const key = headers.get(IDEMPOTENCY_KEY_HEADER);
  if (key === null) return undefined;
  if (!KEY_PATTERN.test(key)) {
    throw new RouterError('invalid_request', {
      message: 'Idempotency-Key must be 1-128 characters of A-Z a-z 0-9 . _ : - (a UUID, for example)',
    });
  }
  return key;
}
