/**
 * Thrown by `compileRuntimePolicy` when a snapshot must not be applied. `reason` is a short, precise,
 * human-readable explanation (e.g. "route demo-chat: target 0 names unknown backend mock-z") that a data
 * plane reports back to the control plane as the rejection reason.
 */
export class SnapshotInvalidError extends Error {
  readonly reason: string;

  constructor(reason: string) {
    super(`invalid policy snapshot: ${reason}`);
    this.name = 'SnapshotInvalidError';
    this.reason = reason;
  }
}
