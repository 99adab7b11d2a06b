import { createHash } from 'node:crypto';
import { toBinary } from '@bufbuild/protobuf';
import { PolicySnapshotSchema, type PolicySnapshot } from '@api-router/contracts';

/**
 * Lower-case hex SHA-256 of `toBinary(snapshot)` with `version`, `contentHash`, `createdAt` and
 * `sourceRevision` cleared: it identifies what the policy does, not where or when it came from, so the same
 * config read from a file or from etcd, at any time and under any version, hashes the same (the control plane
 * uses it to decide "unchanged"). The encoding is deterministic because the snapshot has no map fields and
 * protobuf-es writes fields in field-number order. Does not mutate `snapshot`.
 */
export function computeSnapshotHash(snapshot: PolicySnapshot): string {
  const content: PolicySnapshot = {
    ...snapshot,
    version: 0n,
    contentHash: '',
    createdAt: undefined,
    sourceRevision: '',
  };
  return createHash('sha256').update(toBinary(PolicySnapshotSchema, content)).digest('hex');
}
