import type { Timestamp } from '@bufbuild/protobuf/wkt';

/**
 * Values both audit stores can hold and compare in their indexed columns. Postgres refuses more than SQLite:
 * a NUL character in TEXT, an INTEGER above 2^31 - 1, a BIGINT of milliseconds past year 292 million. Ingest
 * rejects a record beyond these on its own (failing its batch would make the data plane's outbox re-send it
 * for ever) and the lookups refuse such filters as invalid (not "store unavailable": no retry helps).
 */

/** Largest status code an audit store holds (Postgres INTEGER). */
export const MAX_STORABLE_STATUS_CODE = 2_147_483_647;

/** The range google.protobuf.Timestamp defines: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z. */
const MIN_TIMESTAMP_SECONDS = -62_135_596_800n;
const MAX_TIMESTAMP_SECONDS = 253_402_300_799n;

/** The name of the first field holding a NUL character, or undefined. */
export function fieldWithNul(fields: Readonly<Record<string, string>>): string | undefined {
  for (const [name, value] of Object.entries(fields)) {
    if (value.includes('\0')) return name;
  }
  return undefined;
}

/** Whether a timestamp is outside the range google.protobuf.Timestamp defines (or its nanos are invalid). */
export function isTimestampOutOfRange(time: Timestamp): boolean {
  return (
    time.seconds < MIN_TIMESTAMP_SECONDS ||
    time.seconds > MAX_TIMESTAMP_SECONDS ||
    time.nanos < 0 ||
    time.nanos > 999_999_999
  );
}
