import { create } from '@bufbuild/protobuf';
import { createContextValues, type HandlerContext } from '@connectrpc/connect';
import {
  PolicyApplyOutcome,
  PolicySnapshotSchema,
  ReportPolicyStatusRequestSchema,
  WatchPolicyRequestSchema,
  type PolicySnapshot,
} from '@api-router/contracts';
import pino from 'pino';
import { Counter, Gauge, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DataPlaneRegistry } from './data-plane-registry.js';
import { createPolicySyncService } from './policy-sync-service.js';
import { peerKey } from './request-context.js';

function setup(current: PolicySnapshot, heartbeatIntervalMs?: number) {
  const registry = new DataPlaneRegistry({ clock: { now: () => 10_000 } });
  const metricsRegistry = new Registry();
  const service = createPolicySyncService({
    // Yields the current snapshot once, then waits for the signal like the publisher's watch.
    snapshots: {
      async *watch(signal) {
        yield current;
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      },
    },
    heartbeatIntervalMs,
    registry,
    metrics: {
      snapshotRejections: new Counter({ name: 'r', help: 'r', registers: [metricsRegistry] }),
      policyStreamsActive: new Gauge({ name: 'g', help: 'g', registers: [metricsRegistry] }),
    },
    logger: pino({ level: 'silent' }),
  });
  return { registry, service };
}

function contextFor(signal: AbortSignal): HandlerContext {
  const values = createContextValues().set(peerKey, '127.0.0.1:4000');
  return { signal, values } as unknown as HandlerContext;
}

describe('PolicySyncService.watchPolicy', () => {
  it('lists a reconnecting data plane with the version it says it runs (no report follows an empty response)', async () => {
    const current = create(PolicySnapshotSchema, { version: 7n, contentHash: 'h' });
    const { registry, service } = setup(current);
    const abort = new AbortController();
    const request = create(WatchPolicyRequestSchema, { dataPlane: { id: 'dp-a' }, activeVersion: 7n });
    const stream = service.watchPolicy(request, contextFor(abort.signal))[Symbol.asyncIterator]();

    // The data plane already runs version 7 (e.g. after a control-plane restart): it gets an empty
    // response and, having applied nothing, reports nothing.
    expect(await stream.next()).toEqual({ done: false, value: { heartbeatIntervalMs: 30_000 } });
    expect(registry.list()[0]).toMatchObject({ connected: true, appliedVersion: 7n });

    abort.abort();
    await stream.return?.(undefined);
  });

  it('states its heartbeat interval in every response, so a data plane can tell a silent stream is dead', async () => {
    const current = create(PolicySnapshotSchema, { version: 7n, contentHash: 'h' });
    const { service } = setup(current, 250);
    const abort = new AbortController();
    const request = create(WatchPolicyRequestSchema, { dataPlane: { id: 'dp-a' }, activeVersion: 0n });
    const stream = service.watchPolicy(request, contextFor(abort.signal))[Symbol.asyncIterator]();

    expect(await stream.next()).toEqual({
      done: false,
      value: { snapshot: current, heartbeatIntervalMs: 250 },
    });

    abort.abort();
    await stream.return?.(undefined);
  });
});

describe('PolicySyncService.reportPolicyStatus', () => {
  const report = (fields: Record<string, unknown>) => {
    const { registry, service } = setup(create(PolicySnapshotSchema, { version: 7n, contentHash: 'h' }));
    const request = create(ReportPolicyStatusRequestSchema, {
      dataPlane: { id: 'dp-a' },
      version: 7n,
      outcome: PolicyApplyOutcome.APPLIED,
      ...fields,
    });
    const context = contextFor(new AbortController().signal);
    return { registry, call: () => service.reportPolicyStatus(request, context) };
  };

  // Not authenticated (ADR 0002): what it registers is kept in memory and listed to admins.
  it('refuses an identity field longer than 512 characters, naming it', () => {
    for (const [field, identity] of [
      ['data_plane.id', { id: 'd'.repeat(513) }],
      ['data_plane.hostname', { id: 'dp-a', hostname: 'h'.repeat(100_000) }],
      ['data_plane.build_version', { id: 'dp-a', buildVersion: 'b'.repeat(513) }],
    ] as const) {
      const { registry, call } = report({ dataPlane: identity });
      expect(call, field).toThrow(
        expect.objectContaining({
          code: 'invalid_request',
          message: `${field} is longer than 512 characters`,
        }),
      );
      expect(registry.list()).toEqual([]);
    }
    expect(report({ dataPlane: { id: 'd'.repeat(512), hostname: 'h'.repeat(512) } }).call()).toEqual({});
  });

  it('refuses an outcome it does not know instead of taking it for applied', () => {
    const { registry, call } = report({ outcome: 9 });
    expect(call).toThrow(
      expect.objectContaining({ code: 'invalid_request', message: 'outcome 9 is unknown' }),
    );
    expect(registry.list()).toEqual([]);
  });
});
