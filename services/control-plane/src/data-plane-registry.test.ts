import { create } from '@bufbuild/protobuf';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { DataPlaneIdentitySchema, PolicyApplyOutcome } from '@api-router/contracts';
import { describe, expect, it } from 'vitest';
import { DataPlaneRegistry, MAX_REJECT_REASON_CHARACTERS } from './data-plane-registry.js';

const dpA = create(DataPlaneIdentitySchema, { id: 'dp-a', hostname: 'host-a', buildVersion: '1' });
const dpB = create(DataPlaneIdentitySchema, { id: 'dp-b', hostname: 'host-b' });

function setup(retentionMs = 60_000, maxDisconnected?: number) {
  let nowMs = 10_000;
  const registry = new DataPlaneRegistry({
    clock: { now: () => nowMs },
    retentionMs,
    ...(maxDisconnected === undefined ? {} : { maxDisconnected }),
  });
  return { registry, advance: (ms: number) => (nowMs += ms) };
}

describe('DataPlaneRegistry', () => {
  it('tracks connected and disconnected data planes', () => {
    const { registry, advance } = setup();
    registry.connect(dpB, '127.0.0.1:4000', 0n);
    registry.connect(dpA, '127.0.0.1:4001', 0n);
    expect(registry.counts()).toEqual({ connected: 2, disconnected: 0 });
    advance(5_000);
    registry.disconnect(dpB);
    const [a, b] = registry.list();
    expect(a).toMatchObject({
      identity: { id: 'dp-a', hostname: 'host-a' },
      connected: true,
      peer: '127.0.0.1:4001',
    });
    expect(b).toMatchObject({ connected: false });
    expect(timestampMs(b!.lastSeenAt!)).toBe(15_000);
    expect(registry.counts()).toEqual({ connected: 1, disconnected: 1 });
  });

  it('stays connected while a reconnect overlaps the old stream', () => {
    const { registry } = setup();
    registry.connect(dpA, '127.0.0.1:4001', 0n);
    registry.connect(dpA, '127.0.0.1:4002', 0n);
    registry.disconnect(dpA);
    expect(registry.list()[0]).toMatchObject({ connected: true, peer: '127.0.0.1:4002' });
  });

  it('records applied and rejected versions with the reason', () => {
    const { registry, advance } = setup();
    registry.connect(dpA, '127.0.0.1:4001', 0n);
    registry.report(dpA, '127.0.0.1:5000', {
      version: 7n,
      outcome: PolicyApplyOutcome.APPLIED,
      reason: '',
      activeVersion: 7n,
    });
    advance(1_000);
    registry.report(dpA, '127.0.0.1:5000', {
      version: 8n,
      outcome: PolicyApplyOutcome.REJECTED,
      reason: 'backend mock-b: credential env:MISSING is not set',
      activeVersion: 7n,
    });
    const [status] = registry.list();
    expect(status).toMatchObject({
      appliedVersion: 7n,
      rejectedVersion: 8n,
      rejectReason: 'backend mock-b: credential env:MISSING is not set',
      peer: '127.0.0.1:4001',
    });
    expect(timestampMs(status!.rejectedAt!)).toBe(11_000);
  });

  it('registers a data plane that reports before it streams, and forgets disconnected ones after retention', () => {
    const { registry, advance } = setup(60_000);
    registry.report(dpB, '127.0.0.1:5000', {
      version: 3n,
      outcome: PolicyApplyOutcome.APPLIED,
      reason: '',
      activeVersion: 0n,
    });
    expect(registry.list()[0]).toMatchObject({
      connected: false,
      appliedVersion: 3n,
      peer: '127.0.0.1:5000',
    });
    advance(60_001);
    expect(registry.list()).toEqual([]);
  });

  // ReportPolicyStatus is not authenticated (ADR 0002) and registers any id it is given: without a bound,
  // reports under fresh ids (or data planes whose DP_ID changes at each restart) filled memory for the
  // whole retention period, and every ListDataPlanes answer with it.
  it('keeps at most maxDisconnected disconnected data planes, forgetting the longest unseen first', () => {
    const { registry, advance } = setup(3_600_000, 3);
    registry.connect(dpA, '127.0.0.1:4000', 0n);
    for (let index = 0; index < 1000; index += 1) {
      registry.report(create(DataPlaneIdentitySchema, { id: `dp-x${String(index)}` }), '10.0.0.9:1', {
        version: 1n,
        outcome: PolicyApplyOutcome.REJECTED,
        reason: 'x',
        activeVersion: 0n,
      });
      advance(1);
    }
    expect(registry.list().map((status) => status.identity?.id)).toEqual([
      'dp-a',
      'dp-x997',
      'dp-x998',
      'dp-x999',
    ]);
    expect(registry.counts()).toEqual({ connected: 1, disconnected: 3 });
  });

  it('never forgets a connected data plane to make room', () => {
    const { registry } = setup(3_600_000, 1);
    registry.connect(dpA, '127.0.0.1:4000', 0n);
    registry.connect(dpB, '127.0.0.1:4001', 0n);
    registry.report(create(DataPlaneIdentitySchema, { id: 'dp-c' }), '10.0.0.9:1', {
      version: 1n,
      outcome: PolicyApplyOutcome.APPLIED,
      reason: '',
      activeVersion: 1n,
    });
    registry.report(create(DataPlaneIdentitySchema, { id: 'dp-d' }), '10.0.0.9:1', {
      version: 1n,
      outcome: PolicyApplyOutcome.APPLIED,
      reason: '',
      activeVersion: 1n,
    });
    expect(registry.list().map((status) => [status.identity?.id, status.connected])).toEqual([
      ['dp-a', true],
      ['dp-b', true],
      ['dp-d', false],
    ]);
  });

  it('keeps the start of a long reject reason only', () => {
    const { registry } = setup();
    registry.report(dpA, '127.0.0.1:4000', {
      version: 2n,
      outcome: PolicyApplyOutcome.REJECTED,
      reason: 'r'.repeat(1024 * 1024),
      activeVersion: 1n,
    });
    const reason = registry.list()[0]?.rejectReason ?? '';
    expect(reason.length).toBeLessThanOrEqual(MAX_REJECT_REASON_CHARACTERS + 40);
    expect(reason).toMatch(/^r+… \(1048576 characters\)$/);
  });
});
