import * as grpc from '@grpc/grpc-js';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  AuditEventSchema,
  IngestRecordSchema,
  IngestRecordsRequestSchema,
  IngestRecordsResponseSchema,
  UsageRecordSchema,
  type IngestRecord,
  type IngestRecordsRequest,
  type IngestRecordsResponse,
  type IngestRejection,
} from '@api-router/contracts';

const INGEST_RECORDS_PATH = '/router.v1.RecordIngestService/IngestRecords';

/**
 * Outbox topics this transport ships, and the message each payload holds (protobuf bytes):
 * `usage` → router.v1.UsageRecord, `audit` → router.v1.AuditEvent.
 */
export const RECORD_TOPICS = { usage: 'usage', audit: 'audit' } as const;

/** The fields of an outbox record (`OutboxRecord` of @api-router/outbox) the transport reads. */
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

export interface GrpcRecordIngestTransportOptions {
  /** host:port of the control plane's gRPC (h2c) listener (DP_CONTROL_PLANE_ADDRESS). */
  address: string;
  /** This data plane's id (DP_ID), sent with every batch. */
  dataPlaneId: string;
  /** Deadline of one IngestRecords call, ms; default 10 000. A hung control plane fails the batch then. */
  callTimeoutMs?: number;
  /**
   * Records the control plane refused for good (no payload, empty id): they will never be stored and are
   * not re-sent. Report them (log, metric); the batch still counts as delivered.
   */
  onRejected?: (rejections: readonly IngestRejection[]) => void;
}

/** An `OutboxTransport` (structurally: `send(records)`) plus its channel's lifecycle. */
export interface GrpcRecordIngestTransport {
  /**
   * Ships the batch in one IngestRecords call; resolves once the control plane stored it durably (or had
   * it already: re-sending is safe). Rejects, so that the outbox shipper retries the whole batch, when the
   * call fails (control plane down, deadline, store unavailable) or when a record has an unknown topic or
   * a payload that does not decode — those are bugs of the writer, and failing keeps them visible in the
   * shipper's lag instead of dropping them.
   */
  send(records: readonly ShippableRecord[]): Promise<void>;
  /** Closes the gRPC channel; later sends reject. */
  close(): void;
}

/**
 * The embedded transport of the data plane's outbox: RecordIngestService over @grpc/grpc-js without
 * generated stubs (protobuf-es (de)serialisers), plaintext h2c like the policy sync (mTLS later, ADR 0002).
 */
export function createGrpcRecordIngestTransport(
  options: GrpcRecordIngestTransportOptions,
): GrpcRecordIngestTransport {
  const client = new grpc.Client(options.address, grpc.credentials.createInsecure());
  const callTimeoutMs = options.callTimeoutMs ?? 10_000;

  const call = (request: IngestRecordsRequest): Promise<IngestRecordsResponse> =>
    new Promise((resolve, reject) => {
      client.makeUnaryRequest(
        INGEST_RECORDS_PATH,
        (message: IngestRecordsRequest) => Buffer.from(toBinary(IngestRecordsRequestSchema, message)),
        (bytes: Buffer) => fromBinary(IngestRecordsResponseSchema, bytes),
        request,
        { deadline: Date.now() + callTimeoutMs },
        (error, response) =>
          error || response === undefined ? reject(error ?? new Error('no response')) : resolve(response),
      );
    });

  return {
    async send(records) {
      if (records.length === 0) return;
      const request = create(IngestRecordsRequestSchema, {
        dataPlaneId: options.dataPlaneId,
        records: records.map(toIngestRecord),
      });
      const response = await call(request);
      if (response.rejected.length > 0) options.onRejected?.(response.rejected);
    },
    close() {
      client.close();
    },
  };
}

/** @throws Error naming the record when its topic is unknown or its payload does not decode. */
function toIngestRecord(record: ShippableRecord): IngestRecord {
  const base = { key: record.key, outboxSeq: BigInt(record.seq) };
  try {
    switch (record.topic) {
      case RECORD_TOPICS.usage:
        return create(IngestRecordSchema, {
          ...base,
          record: { case: 'usage', value: fromBinary(UsageRecordSchema, record.payload) },
        });
      case RECORD_TOPICS.audit:
        return create(IngestRecordSchema, {
          ...base,
          record: { case: 'audit', value: fromBinary(AuditEventSchema, record.payload) },
        });
      default:
        throw new Error(`unknown topic "${record.topic}"`);
    }
  } catch (error: unknown) {
    throw new Error(
      `outbox record seq ${record.seq} (key ${record.key}) cannot be shipped: ${error instanceof Error ? error.message : String(error)}`,
      {
        cause: error,
      },
    );
  }
}
