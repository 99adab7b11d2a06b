import { createHash } from 'node:crypto';
import { toBinary } from '@bufbuild/protobuf';
import { PolicySnapshotSchema, type PolicySnapshot } from '@api-router/contracts';

/**
 * Lower-case hex SHA-256 of `toBinary(snapshot)` with `version`, `contentHash` and `createdAt` cleared, so
 * identical content hashes the same whatever its version or creation time (note: `sourceRevision` is part
 * of the content). The encoding is deterministic because the snapshot has no map fields and protobuf-es
 * writes fields in field-number order. Does not mutate `snapshot`.
 */
export function computeSnapshotHash(snapshot: PolicySnapshot): string {
  const content: PolicySnapshot = { ...snapshot, version: 0n, contentHash: '', createdAt: undefined };
  return createHash('sha256').update(toBinary(PolicySnapshotSchema, content)).digest('hex');
}
