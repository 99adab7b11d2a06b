import type {
  ReportPolicyStatusRequest,
  WatchPolicyRequest,
  WatchPolicyResponse,
} from '@api-router/contracts';

/**
 * Callbacks of one WatchPolicy stream. They never fire synchronously from `watchPolicy`, and after `onEnd`
 * none fires again.
 */
export interface WatchPolicyHandlers {
  /** Response headers arrived: the control plane accepted the call. */
  onHeaders(): void;
  onMessage(response: WatchPolicyResponse): void;
  /** The stream is over: `error` undefined for a clean end by the server, else why it failed. */
  onEnd(error: Error | undefined): void;
}

/** An open WatchPolicy stream. */
export interface WatchPolicyCall {
  /** Ends the stream from our side; `onEnd` is not called afterwards. */
  cancel(): void;
}

/**
 * The wire under the policy sync client: the real one is gRPC (grpc-policy-sync-transport.ts); unit tests
 * use a hand-written fake.
 */
export interface PolicySyncTransport {
  watchPolicy(request: WatchPolicyRequest, handlers: WatchPolicyHandlers): WatchPolicyCall;
  /** Rejects when the call fails (unreachable, deadline exceeded, error status). */
  reportPolicyStatus(request: ReportPolicyStatusRequest): Promise<void>;
  /** Closes the underlying channel; later calls fail. */
  close(): void;
}
