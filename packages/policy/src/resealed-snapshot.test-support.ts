// Helpers for the tests of the data plane's snapshot checks (compileRuntimePolicy). Excluded from the build.
import { clone } from '@bufbuild/protobuf';
import { PolicySnapshotSchema, type PolicySnapshot } from '@api-router/contracts';
import { compileRuntimePolicy } from './compile-runtime-policy.js';
import { computeSnapshotHash } from './snapshot-hash.js';
import { SnapshotInvalidError } from './snapshot-invalid-error.js';

/** Applies `change` to a copy of a valid snapshot and re-seals it, so only the targeted check can fail. */
export function resealedCopy(
  valid: PolicySnapshot,
  change: (snapshot: PolicySnapshot) => void,
): PolicySnapshot {
  const snapshot = clone(PolicySnapshotSchema, valid);
  change(snapshot);
  snapshot.contentHash = computeSnapshotHash(snapshot);
  return snapshot;
}

/** The reason compileRuntimePolicy rejects `snapshot` with; throws if it accepts it. */
export function rejectionReason(snapshot: PolicySnapshot): string {
  try {
    compileRuntimePolicy(snapshot);
  } catch (error: unknown) {
    if (error instanceof SnapshotInvalidError) return error.reason;
    throw error;
  }
  throw new Error('snapshot was accepted');
}
