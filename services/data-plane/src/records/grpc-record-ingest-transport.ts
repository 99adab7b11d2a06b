import * as grpc from '@grpc/grpc-js';
import { fromBinary } from '@bufbuild/protobuf';
import {
  IngestRecordsResponseSchema,
  type IngestRecordsResponse,
  type IngestRejection,
} from '@api-router/contracts';
import { encodeIngestRecordsRequest, type ShippableRecord } from './ingest-request-wire.js';

export { RECORD_TOPICS, type ShippableRecord } from './ingest-request-wire.js';

const INGEST_RECORDS_PATH = '/router.v1.RecordIngestService/IngestRecords';

/**
 * What a control plane older than IngestRecord's usage_bytes / audit_bytes (ADR 0008) answers for a record
 * sent in them: it sees neither of the record forms it knows. Every record this data plane sends has its
 * payload in one of those fields, so a current control plane never gives this reason for one.
 */
const RECORD_FORM_NOT_UNDERSTOOD = 'record has neither usage nor audit';

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
   * call fails (control plane down, deadline, store unavailable, a payload the control plane cannot decode)
   * or when a record has an unknown topic — those last two are bugs of the writer, and failing keeps them
   * visible in the shipper's lag instead of dropping them.
   */
  send(records: readonly ShippableRecord[]): Promise<void>;
  /** Closes the gRPC channel; later sends reject. */
  close(): void;
}

/**
 * The embedded transport of the data plane's outbox: RecordIngestService over @grpc/grpc-js without
 * generated stubs (request bytes from encodeIngestRecordsRequest, response decoded by protobuf-es), plaintext h2c like the policy sync (mTLS later, ADR 0002).
 */
export function createGrpcRecordIngestTransport(
  options: GrpcRecordIngestTransportOptions,
): GrpcRecordIngestTransport {
  const client = new grpc.Client(options.address, grpc.credentials.createInsecure());
  const callTimeoutMs = options.callTimeoutMs ?? 10_000;

  const call = (request: Uint8Array): Promise<IngestRecordsResponse> =>
    new Promise((resolve, reject) => {
      client.makeUnaryRequest(
        INGEST_RECORDS_PATH,
        (message: Uint8Array) => Buffer.from(message.buffer, message.byteOffset, message.byteLength),
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
      const response = await call(encodeIngestRecordsRequest(options.dataPlaneId, records));
      const notUnderstood = response.rejected.filter(({ reason }) => reason === RECORD_FORM_NOT_UNDERSTOOD);
      if (notUnderstood.length > 0) {
        // Refusing them for good would lose records during an upgrade that reached data planes first: fail
        // the batch instead, so it stays in the outbox and is re-sent (its stored records as duplicates).
        throw new Error(
          `the control plane did not understand ${notUnderstood.length} of ${records.length} records ` +
            '(it predates IngestRecord usage_bytes / audit_bytes, ADR 0008): the batch stays in the outbox ' +
            'and is re-sent until the control plane is upgraded',
        );
      }
      if (response.rejected.length > 0) options.onRejected?.(response.rejected);
    },
    close() {
      client.close();
    },
  };
}
