import { Code, ConnectError, type ServiceImpl } from '@connectrpc/connect';
import {
  PolicyApplyOutcome,
  type DataPlaneIdentity,
  type PolicySnapshot,
  type PolicySyncService,
} from '@api-router/contracts';
import { RouterError } from '@api-router/errors';
import type { Logger } from 'pino';
import type { ControlPlaneMetrics } from './control-plane-metrics.js';
import { boundReason, type DataPlaneRegistry } from './data-plane-registry.js';
import { peerKey } from './request-context.js';

export interface PolicySyncServiceDeps {
  /** Latest-only snapshot stream (SnapshotPublisher.watch). */
  snapshots: { watch(signal: AbortSignal, idleMs?: number): AsyncIterable<PolicySnapshot | undefined> };
  /** An empty response is sent after this long without a new snapshot, as a sign of life; default 30 000 ms. */
  heartbeatIntervalMs?: number;
  registry: DataPlaneRegistry;
  metrics: Pick<ControlPlaneMetrics, 'snapshotRejections' | 'policyStreamsActive'>;
  logger: Logger;
}

/**
 * PolicySyncService for data planes. Not authenticated yet (mTLS between the planes comes later, see ADR
 * 0002): it must only be reachable on the private network.
 */
export function createPolicySyncService(deps: PolicySyncServiceDeps): ServiceImpl<typeof PolicySyncService> {
  const { registry, metrics, logger } = deps;
  return {
    /**
     * Sends the current snapshot at once, then the latest one whenever it changes. When the data plane
     * already runs the current version, an empty response is sent instead: a response is what commits the
     * stream's headers, and the data plane counts any message as a sign of life (as it does the heartbeat
     * sent after `heartbeatIntervalMs` of silence). Ends when the client goes away (its signal aborts) or at
     * shutdown (the server's shutdown signal aborts every handler's signal).
     */
    async *watchPolicy(request, context) {
      const identity = requireIdentity(request.dataPlane);
      const peer = context.values.get(peerKey);
      registry.connect(identity, peer, request.activeVersion);
      metrics.policyStreamsActive.inc();
      logger.info(
        { dataPlaneId: identity.id, peer, activeVersion: request.activeVersion.toString() },
        'data plane connected',
      );
      // Stated in every response: a data plane that hears nothing for a few intervals reconnects, since a
      // stream can be dead behind an L7 proxy that answers keepalive pings itself (ADR 0002).
      const heartbeatIntervalMs = deps.heartbeatIntervalMs ?? 30_000;
      try {
        for await (const snapshot of deps.snapshots.watch(context.signal, heartbeatIntervalMs)) {
          yield snapshot === undefined || snapshot.version === request.activeVersion
            ? { heartbeatIntervalMs }
            : { snapshot, heartbeatIntervalMs };
        }
        // The watch ends quietly on abort; the stream must not: at shutdown the reason is UNAVAILABLE, which
        // tells the data plane to reconnect (to another replica). When the client left, nobody reads it.
        if (context.signal.aborted) throw ConnectError.from(context.signal.reason, Code.Unavailable);
      } finally {
        registry.disconnect(identity);
        metrics.policyStreamsActive.dec();
        logger.info({ dataPlaneId: identity.id, peer }, 'data plane disconnected');
      }
    },

    reportPolicyStatus(request, context) {
      const identity = requireIdentity(request.dataPlane);
      if (request.outcome === PolicyApplyOutcome.UNSPECIFIED) {
        throw new RouterError('invalid_request', { message: 'outcome is required' });
      }
      // An open enum: a number this build does not know would otherwise be listed and logged as applied.
      if (request.outcome !== PolicyApplyOutcome.APPLIED && request.outcome !== PolicyApplyOutcome.REJECTED) {
        throw new RouterError('invalid_request', {
          message: `outcome ${String(request.outcome)} is unknown`,
        });
      }
      registry.report(identity, context.values.get(peerKey), {
        version: request.version,
        outcome: request.outcome,
        reason: request.reason,
        activeVersion: request.activeVersion,
      });
      const fields = { dataPlaneId: identity.id, version: request.version.toString() };
      if (request.outcome === PolicyApplyOutcome.REJECTED) {
        metrics.snapshotRejections.inc();
        logger.warn({ ...fields, reason: boundReason(request.reason) }, 'data plane rejected snapshot');
      } else {
        logger.info(fields, 'data plane applied snapshot');
      }
      return {};
    },
  };
}

/**
 * Longest identity field accepted. The registry keeps identities in memory for an hour after they were last
 * seen and lists them to admins, and these calls are not authenticated: a megabyte per id must not be.
 * Real ones are a host name (at most 253 characters) with a pid (DP_ID's default), or a short DP_ID.
 */
const MAX_IDENTITY_FIELD_CHARACTERS = 512;

function requireIdentity(identity: DataPlaneIdentity | undefined): DataPlaneIdentity {
  if (identity === undefined || identity.id === '') {
    throw new RouterError('invalid_request', { message: 'data_plane.id is required' });
  }
  for (const [field, value] of [
    ['data_plane.id', identity.id],
    ['data_plane.hostname', identity.hostname],
    ['data_plane.build_version', identity.buildVersion],
  ] as const) {
    if (value.length > MAX_IDENTITY_FIELD_CHARACTERS) {
      throw new RouterError('invalid_request', {
        message: `${field} is longer than ${String(MAX_IDENTITY_FIELD_CHARACTERS)} characters`,
      });
    }
  }
  return identity;
}
