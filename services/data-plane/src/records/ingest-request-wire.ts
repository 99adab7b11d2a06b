import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';

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
const REQUEST_DATA_PLANE_ID = 1;
const REQUEST_RECORDS = 2;
const RECORD_KEY = 1;
const RECORD_FIELD_BY_TOPIC: Readonly<Record<string, number>> = {
  [RECORD_TOPICS.usage]: 2, // oneof record: UsageRecord usage
  [RECORD_TOPICS.audit]: 3, // oneof record: AuditEvent audit
};
const RECORD_OUTBOX_SEQ = 4;

/**
 * The wire bytes of a router.v1.IngestRecordsRequest holding `records`, written with protobuf-es's
 * BinaryWriter. An outbox payload already is the encoded UsageRecord/AuditEvent, and an embedded message
 * is a length-delimited field whose content is exactly those bytes, so each payload is copied in as is:
 * no decode into objects and re-encode per record (that round trip was ~15 µs of router CPU per request).
 * The result equals toBinary(IngestRecordsRequestSchema, …) of the decoded records (tested). The control
 * plane decodes every record; a payload that does not decode fails the whole call there, which the
 * shipper retries (visible as outbox lag), as a decode failure here used to.
 *
 * @throws Error naming the record when its topic is not one of {@link RECORD_TOPICS} (a writer bug).
 */
export function encodeIngestRecordsRequest(
  dataPlaneId: string,
  records: readonly ShippableRecord[],
): Uint8Array {
  const writer = new BinaryWriter();
  if (dataPlaneId !== '') writer.tag(REQUEST_DATA_PLANE_ID, WireType.LengthDelimited).string(dataPlaneId);
  for (const record of records) {
    const field = RECORD_FIELD_BY_TOPIC[record.topic];
    if (field === undefined) {
      throw new Error(
        `outbox record seq ${record.seq} (key ${record.key}) cannot be shipped: unknown topic "${record.topic}"`,
      );
    }
    writer.tag(REQUEST_RECORDS, WireType.LengthDelimited).fork();
    if (record.key !== '') writer.tag(RECORD_KEY, WireType.LengthDelimited).string(record.key);
    writer.tag(field, WireType.LengthDelimited).bytes(record.payload);
    if (record.seq !== 0) writer.tag(RECORD_OUTBOX_SEQ, WireType.Varint).uint64(record.seq);
    writer.join();
  }
  return writer.finish();
}
