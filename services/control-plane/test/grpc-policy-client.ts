import * as grpc from '@grpc/grpc-js';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  ReportPolicyStatusRequestSchema,
  ReportPolicyStatusResponseSchema,
  WatchPolicyRequestSchema,
  WatchPolicyResponseSchema,
  type ReportPolicyStatusRequest,
  type WatchPolicyRequest,
  type WatchPolicyResponse,
} from '@api-router/contracts';
import type { MessageInitShape } from '@bufbuild/protobuf';

/**
 * The data plane's way of calling PolicySyncService: @grpc/grpc-js without stubs, protobuf-es
 * (de)serialisers. `next()` waits for the next stream message (rejects if the stream ends first).
 */
export class GrpcPolicyClient {
  readonly #client: grpc.Client;
  readonly #messages: WatchPolicyResponse[] = [];
  #waiting: { resolve: (message: WatchPolicyResponse) => void; reject: (error: Error) => void } | undefined;
  #call: grpc.ClientReadableStream<WatchPolicyResponse> | undefined;
  #ended: Error | undefined;
  /** Resolves with the final status when the stream ends. */
  ended: Promise<grpc.StatusObject> | undefined;

  constructor(grpcUrl: string) {
    this.#client = new grpc.Client(new URL(grpcUrl).host, grpc.credentials.createInsecure());
  }

  watch(request: MessageInitShape<typeof WatchPolicyRequestSchema>): void {
    const call = this.#client.makeServerStreamRequest(
      '/router.v1.PolicySyncService/WatchPolicy',
      (message: WatchPolicyRequest) => Buffer.from(toBinary(WatchPolicyRequestSchema, message)),
      (bytes: Buffer) => fromBinary(WatchPolicyResponseSchema, bytes),
      create(WatchPolicyRequestSchema, request),
    );
    call.on('data', (message: WatchPolicyResponse) => {
      if (this.#waiting) {
        this.#waiting.resolve(message);
        this.#waiting = undefined;
      } else {
        this.#messages.push(message);
      }
    });
    call.on('error', () => undefined);
    this.ended = new Promise((resolve) =>
      call.on('status', (status: grpc.StatusObject) => {
        this.#ended = new Error(`stream ended: ${status.code} ${status.details}`);
        this.#waiting?.reject(this.#ended);
        resolve(status);
      }),
    );
    this.#call = call;
  }

  next(): Promise<WatchPolicyResponse> {
    const queued = this.#messages.shift();
    if (queued) return Promise.resolve(queued);
    if (this.#ended) return Promise.reject(this.#ended);
    return new Promise((resolve, reject) => (this.#waiting = { resolve, reject }));
  }

  report(request: MessageInitShape<typeof ReportPolicyStatusRequestSchema>): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#client.makeUnaryRequest(
        '/router.v1.PolicySyncService/ReportPolicyStatus',
        (message: ReportPolicyStatusRequest) =>
          Buffer.from(toBinary(ReportPolicyStatusRequestSchema, message)),
        (bytes: Buffer) => fromBinary(ReportPolicyStatusResponseSchema, bytes),
        create(ReportPolicyStatusRequestSchema, request),
        (error) => (error ? reject(error) : resolve()),
      );
    });
  }

  close(): void {
    this.#call?.cancel();
    this.#client.close();
  }
}
