import {
  fieldTag,
  lengthDelimitedBytes,
  stringFieldBytes,
  varintFieldBytes,
  WIRE_LENGTH_DELIMITED,
  WIRE_VARINT,
  writeLengthDelimitedHeader,
  writeStringField,
  writeVarintField,
} from './protobuf-wire.js';

/** Outbox topics the record path writes; each payload is already the protobuf bytes of its message. */
export const RECORD_TOPICS = { usage: 'usage', audit: 'audit' } as const;

/** The fields of an outbox record (`OutboxRecord` of @api-router/outbox) a transport reads. */
export interface ShippableRecord {
  /** Request id (or event id); the control plane dedupes on the records' own ids, not on this. */
  key: string;
  /** One of {@link RECORD_TOPICS}. */
  topic: string;
  /** Protobuf bytes of the topic's message. */
  payload: Uint8Array;
  /** Position in the outbox. */
  seq: number;
}

// Field numbers of router.v1.IngestRecordsRequest and router.v1.IngestRecord (proto/router/v1/record_ingest.proto).
const REQUEST_DATA_PLANE_ID_TAG = fieldTag(1, WIRE_LENGTH_DELIMITED);
const REQUEST_RECORDS = 2;
const RECORD_KEY_TAG = fieldTag(1, WIRE_LENGTH_DELIMITED);
// A Map, not an object literal: a topic such as "constructor" must not find an inherited property.
const RECORD_FIELD_BY_TOPIC: ReadonlyMap<string, number> = new Map([
  [RECORD_TOPICS.usage, 5], // oneof record: bytes usage_bytes (an encoded UsageRecord)
  [RECORD_TOPICS.audit, 6], // oneof record: bytes audit_bytes (an encoded AuditEvent)
]);
const RECORD_OUTBOX_SEQ_TAG = fieldTag(4, WIRE_VARINT);

/**
 * The wire bytes of a router.v1.IngestRecordsRequest holding `records`. An outbox payload already is the
 * encoded UsageRecord/AuditEvent, which goes as is into the record's usage_bytes / audit_bytes field: no
 * decode into objects and re-encode per record here (that round trip was ~15 µs of router CPU per request),
 * and the control plane stores those same bytes without re-encoding them either. The request is sized first
 * and written into one Buffer, each payload copied once (protobuf-es's BinaryWriter copied it three times).
 * The result equals toBinary(IngestRecordsRequestSchema, …) of the same request (tested). The control plane
 * decodes every record; one whose payload does not decode comes back in `rejected` (it can never be
 * stored), like a record without an id.
 *
 * @throws Error naming the record when its topic is not one of {@link RECORD_TOPICS}, or its seq is not a
 * non-negative safe integer (writer bugs).
 */
export function encodeIngestRecordsRequest(
  dataPlaneId: string,
  records: readonly ShippableRecord[],
): Uint8Array {
  const dataPlaneIdBytes = Buffer.byteLength(dataPlaneId, 'utf8');
  const fields = new Array<number>(records.length);
  const keyBytes = new Array<number>(records.length);
  const recordBytes = new Array<number>(records.length);
  let size = stringFieldBytes(REQUEST_DATA_PLANE_ID_TAG, dataPlaneIdBytes);
  for (let index = 0; index < records.length; index += 1) {
    const record = records[index]!;
    const field = payloadField(record);
    fields[index] = field;
    keyBytes[index] = Buffer.byteLength(record.key, 'utf8');
    recordBytes[index] =
      stringFieldBytes(RECORD_KEY_TAG, keyBytes[index]!) +
      lengthDelimitedBytes(field, record.payload.length) +
      varintFieldBytes(RECORD_OUTBOX_SEQ_TAG, record.seq);
    size += lengthDelimitedBytes(REQUEST_RECORDS, recordBytes[index]!);
  }
  const out = Buffer.allocUnsafe(size);
  let at = writeStringField(out, 0, REQUEST_DATA_PLANE_ID_TAG, dataPlaneId, dataPlaneIdBytes);
  for (let index = 0; index < records.length; index += 1) {
    const record = records[index]!;
    at = writeLengthDelimitedHeader(out, at, REQUEST_RECORDS, recordBytes[index]!);
    // Fields in number order, as protobuf-es writes them: key (1), outbox_seq (4), then the payload (5 or 6).
    at = writeStringField(out, at, RECORD_KEY_TAG, record.key, keyBytes[index]!);
    at = writeVarintField(out, at, RECORD_OUTBOX_SEQ_TAG, record.seq);
    at = writeLengthDelimitedHeader(out, at, fields[index]!, record.payload.length);
    out.set(record.payload, at);
    at += record.payload.length;
  }
  if (at !== size)
    throw new Error(`encodeIngestRecordsRequest wrote ${at} bytes, sized ${size} (encoder bug)`);
  return out;
}

/** The IngestRecord field that holds the record's payload (checked once, when sizing); throws for what cannot be shipped. */
function payloadField(record: ShippableRecord): number {
  const field = RECORD_FIELD_BY_TOPIC.get(record.topic);
  if (field === undefined) {
    throw new Error(
      `outbox record seq ${record.seq} (key ${record.key}) cannot be shipped: unknown topic "${record.topic}"`,
    );
  }
  if (!Number.isSafeInteger(record.seq) || record.seq < 0) {
    throw new Error(`outbox record seq ${record.seq} (key ${record.key}) cannot be shipped: invalid seq`);
  }
  return field;
}
