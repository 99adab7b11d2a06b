import * as grpc from '@grpc/grpc-js';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  ReportPolicyStatusRequestSchema,
  ReportPolicyStatusResponseSchema,
  WatchPolicyRequestSchema,
  WatchPolicyResponseSchema,
  type ReportPolicyStatusRequest,
  type WatchPolicyRequest,
  type WatchPolicyResponse,
} from '@api-router/contracts';
import { MAX_SNAPSHOT_BYTES } from '@api-router/policy';
import type { PolicySyncTransport } from './policy-sync-transport.js';

const WATCH_POLICY_PATH = '/router.v1.PolicySyncService/WatchPolicy';
const REPORT_POLICY_STATUS_PATH = '/router.v1.PolicySyncService/ReportPolicyStatus';
// A WatchPolicyResponse is its snapshot plus a field tag and length; grpc-js's default limit (4 MiB) would
// refuse a policy of a few tens of thousands of keys at every reconnect (RESOURCE_EXHAUSTED).
const MAX_RESPONSE_BYTES = MAX_SNAPSHOT_BYTES + 1024;

export interface GrpcPolicySyncTransportOptions {
  /** host:port of the control plane's gRPC (h2c) listener. */
  address: string;
  /** Keepalive ping interval, ms: detects a dead control plane behind a silent network. */
  keepaliveTimeMs: number;
  /** Time to wait for a ping ack before dropping the connection, ms. */
  keepaliveTimeoutMs: number;
  /**
   * Bounds of grpc-js's own channel reconnect backoff, ms. Kept in line with the sync client's backoff so
   * the channel is not still sleeping (and failing calls fast) when the client decides to reconnect.
   */
  reconnectBackoffMs: { initial: number; max: number };
  /** Deadline of one ReportPolicyStatus call, ms. */
  reportTimeoutMs: number;
}

/**
 * PolicySyncService over @grpc/grpc-js without generated stubs: the generic Client with protobuf-es
 * (de)serialisers. Plaintext (h2c) for now; mTLS comes with the control plane's (ADR 0002).
 */
export function createGrpcPolicySyncTransport(options: GrpcPolicySyncTransportOptions): PolicySyncTransport {
  const client = new grpc.Client(options.address, grpc.credentials.createInsecure(), {
    'grpc.keepalive_time_ms': options.keepaliveTimeMs,
    'grpc.keepalive_timeout_ms': options.keepaliveTimeoutMs,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.initial_reconnect_backoff_ms': options.reconnectBackoffMs.initial,
    'grpc.max_reconnect_backoff_ms': options.reconnectBackoffMs.max,
    'grpc.max_receive_message_length': MAX_RESPONSE_BYTES,
  });

  return {
    watchPolicy(request: WatchPolicyRequest, handlers) {
      const stream = client.makeServerStreamRequest(
        WATCH_POLICY_PATH,
        (message: WatchPolicyRequest) => Buffer.from(toBinary(WatchPolicyRequestSchema, message)),
        (bytes: Buffer) => fromBinary(WatchPolicyResponseSchema, bytes),
        request,
      );
      let open = true;
      stream.on('metadata', () => {
        if (open) handlers.onHeaders();
      });
      stream.on('data', (response: WatchPolicyResponse) => {
        if (open) handlers.onMessage(response);
      });
      // grpc-js emits 'error' for every non-OK status and then always 'status'; the end is handled on
      // 'status' so it is signalled exactly once. The listener must exist or 'error' would throw.
      let failure: Error | undefined;
      stream.on('error', (error: Error) => {
        failure = error;
      });
      stream.on('status', () => {
        if (!open) return;
        open = false;
        handlers.onEnd(failure);
      });
      return {
        cancel() {
          if (!open) return;
          open = false;
          stream.cancel();
        },
      };
    },

    reportPolicyStatus(request: ReportPolicyStatusRequest) {
      return new Promise<void>((resolve, reject) => {
        client.makeUnaryRequest(
          REPORT_POLICY_STATUS_PATH,
          (message: ReportPolicyStatusRequest) =>
            Buffer.from(toBinary(ReportPolicyStatusRequestSchema, message)),
          (bytes: Buffer) => fromBinary(ReportPolicyStatusResponseSchema, bytes),
          request,
          { deadline: Date.now() + options.reportTimeoutMs },
          (error) => (error ? reject(error) : resolve()),
        );
      });
    },

    close() {
      client.close();
    },
  };
}
